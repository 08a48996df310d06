"""Job-pipeline stage ``qc``: run the checks on the segment stage's files.

Pass → the job continues. Fail → :class:`QcFailed` (code ``qc_failed``, listed in
``jobs.review_codes``) so the runner moves the job to ``needs_review``; the reasons with their
values and thresholds are in ``qc.json`` and their codes in ``result.json``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.errors import LipoNodeError
from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.qc.checks import QcStatus, run_qc
from node.segment.geometry import Mask, geometry_of

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext

class QcFailed(LipoNodeError):
    """The automatic segmentation needs a clinician (reasons in qc.json)."""

    code = "qc_failed"


def qc_stage(ctx: JobContext) -> None:
    from node.jobs.folder import Artefact
    from node.jobs.model import QcOutcome

    folder = ctx.folder
    image = sitk.ReadImage(str(folder / Artefact.MASK))
    info = json.loads((folder / Artefact.SEGMENT_INFO).read_text(encoding="utf-8"))
    probs = None
    if folder.has(Artefact.PROBABILITIES):
        probs = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / Artefact.PROBABILITIES))) / np.float32(255)
    mask = Mask(array=sitk.GetArrayFromImage(image).astype(np.uint8), geometry=geometry_of(image),
                model_id=info["model_id"], probabilities=probs, agreement=info.get("agreement"))
    uncertain = bool(ctx.result.selection and ctx.result.selection.uncertain)
    result = run_qc(mask, None, uncertain, ctx.cfg.qc)
    folder.write_text(Artefact.QC, result.model_dump_json(indent=2) + "\n")
    ctx.result.artefacts["qc"] = Artefact.QC.value
    ctx.result.volume_ml = result.volume_ml
    ctx.result.qc = QcOutcome(status=result.status,
                              reason_codes=[r.code.value for r in result.reasons])
    if result.status is QcStatus.FAIL:
        raise QcFailed("; ".join(r.message for r in result.reasons))


register_stage("qc", JobState.QC, "node.qc.stage:qc_stage")
