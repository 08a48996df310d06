"""The job folder: the one place that knows where a job's files live and what they are called.

``<jobs_dir>/<job_id>/`` holds ``result.json`` (the durable record, :class:`JobResult`) and the
stage outputs named by :class:`Artefact`. Stages, runners, the worklist and the app reach a
job's files only through :class:`JobFolder`; every write goes through :mod:`node.atomic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from node import atomic
from node.jobs.model import JobResult

if TYPE_CHECKING:
    import SimpleITK as sitk  # noqa: N813 (the library's own convention)

    from node.config import NodeConfig


class Artefact(StrEnum):
    """File (or folder) names inside a job folder, and the stage that writes each."""

    RESULT = "result.json"  # every stage, through JobFolder.save_result
    MASK = "mask.nii.gz"  # segment; replaced by a reviewer's correction
    PROBABILITIES = "probabilities.nii.gz"  # segment: foreground softmax × 255
    SEGMENT_INFO = "segment.json"  # segment: model id, agreement, timings
    QC = "qc.json"  # qc: status and reasons with values and thresholds
    FEATURES = "features.json"  # radiomics: FeatureVector
    SEQUENCES = "sequences.json"  # radiomics (multi_sequence): sequences used, registration
    IMAGE = "image.nii.gz"  # worklist: the selected series on the mask's grid
    AUTO_MASK = "mask_automatic.nii.gz"  # worklist: the automatic mask a reviewer replaced
    INTERACTIVE_MASK = "mask_interactive.nii.gz"  # worklist: the extreme-point model's proposal
    REPORT = "report"  # report: seg-<uid>.dcm / sr-<uid>.dcm / key-<uid>.dcm (node.report.write.REPORT_DIR)


#: what retention keeps of a finished job (the PACS holds the images)
KEEP_AFTER_RETENTION = (Artefact.RESULT, Artefact.REPORT, Artefact.QC, Artefact.SEGMENT_INFO,
                        Artefact.FEATURES)


@dataclass(frozen=True)
class JobFolder:
    """``<jobs_dir>/<job_id>``; the folder may not exist yet."""

    path: Path

    @classmethod
    def of(cls, cfg: NodeConfig, job_id: str) -> JobFolder:
        return cls(cfg.jobs_dir / job_id)

    @property
    def job_id(self) -> str:
        return self.path.name

    def __truediv__(self, name: Artefact | str) -> Path:
        return self.path / str(name)

    def has(self, artefact: Artefact | str) -> bool:
        return (self / artefact).exists()

    def has_result(self) -> bool:
        return (self / Artefact.RESULT).is_file()

    def read_result(self) -> JobResult:
        """Raises FileNotFoundError when the job has no result.json (yet)."""
        return JobResult.from_file(self / Artefact.RESULT)

    def save_result(self, result: JobResult) -> None:
        atomic.write_text(self / Artefact.RESULT, result.model_dump_json(indent=2))

    def write_text(self, artefact: Artefact | str, text: str) -> Path:
        return atomic.write_text(self / artefact, text)

    def write_image(self, artefact: Artefact | str, image: sitk.Image) -> Path:
        return atomic.write_image(self / artefact, image)

    def relative(self, path: Path) -> str:
        """``path`` as stored in ``result.artefacts`` (relative to the folder)."""
        return str(Path(path).relative_to(self.path))
