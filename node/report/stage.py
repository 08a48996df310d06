"""Job-pipeline stage ``report``: mask + upstream results → SEG + SR files in the job folder.

The mask (``mask.nii.gz`` from segment, or the reviewed one) is put back into the source
frame order with :func:`node.segment.geometry.seg_source`, so the SEG is pixel-aligned with
the selected series. A result that supersedes an earlier one (``result.amends`` holds the
old SEG/SR SOP Instance UIDs) references it: the old SR is found in ``report/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

import node
from node.errors import ReportError
from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.report.inputs import PreviousResult, ReportInputs
from node.report.templates import load_templates
from node.report.write import REPORT_DIR, write_report
from node.vocab import QcStatus, SegMethod

if TYPE_CHECKING:
    from node.jobs.pipeline import JobContext

def _previous(job_dir: Path, amends: list[str]) -> PreviousResult | None:
    """The latest earlier SR/SEG named in ``amends`` (PS3.3 C.17.2.1 Predecessor Documents)."""
    if not amends:
        return None
    found: dict[str, pydicom.Dataset] = {}
    for p in sorted((job_dir / REPORT_DIR).glob("*.dcm")):
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        if ds.SOPInstanceUID in amends:
            found[ds.Modality] = ds
    if "SR" not in found or "SEG" not in found:
        raise ReportError(f"amended result: superseded SEG/SR {amends} not found in {REPORT_DIR}/")
    sr, seg = found["SR"], found["SEG"]
    return PreviousResult(study_uid=sr.StudyInstanceUID, seg_series_uid=seg.SeriesInstanceUID,
                          seg_uid=seg.SOPInstanceUID, sr_series_uid=sr.SeriesInstanceUID,
                          sr_uid=sr.SOPInstanceUID)


def inputs_from_result(ctx: JobContext) -> ReportInputs:
    r = ctx.result
    missing = [n for n in ("alt_probability", "label", "volume_ml") if getattr(r, n) is None]
    if missing:
        raise ReportError(f"job {r.job_id}: cannot report without {', '.join(missing)}")
    reviewed = r.seg_method is not SegMethod.AUTOMATIC or r.quality_score is not None
    qc = QcStatus.REVIEWED if reviewed else (r.qc.status or QcStatus.PASS)
    # model id -> version, as ReportInputs expects; an id that embeds its version ("seg@<hash>")
    # is shortened so the joined Algorithm Version stays within VR LO (64 characters)
    versions = {m.model_id.partition("@")[0]: m.version for m in r.models} or {"lipo-node": node.__version__}
    return ReportInputs(
        alt_probability=r.alt_probability, label=r.label, qc_status=qc,
        qc_reasons=tuple(r.qc.reason_codes), seg_method=r.seg_method, ood=bool(r.ood_flag),
        volume_ml=r.volume_ml, diameter_mm=r.diameter_mm, model_versions=versions,
        amended_from=_previous(ctx.job_dir, r.amends),
        sequences=_sequences(ctx.job_dir, r.artefacts.get("sequences")),
        series_selection="manual" if r.selection is not None and r.selection.method == "manual"
        else "automatic",
    )


def _sequences(job_dir: Path, name: str | None) -> tuple[str, ...]:
    """Sequences the multi-sequence classifier used (``sequences.json``); () for T1-only."""
    if not name or not (job_dir / name).is_file():
        return ()
    return tuple(json.loads((job_dir / name).read_text(encoding="utf-8")).get("used", ()))


def report_stage(ctx: JobContext) -> None:
    from node.jobs.folder import Artefact
    from node.qc.gate import assert_deliverable
    from node.segment.geometry import array_on_grid, read_series, seg_source

    assert_deliverable(ctx.result)  # issue 14: P(ALT) only for a mask QC or a reviewer cleared
    info = inputs_from_result(ctx)
    datasets = [pydicom.dcmread(str(p)) for p in ctx.series_paths()]
    volume = read_series(datasets)
    mask_path = ctx.folder / Artefact.MASK
    if not mask_path.exists():
        raise ReportError(f"job {ctx.job_id}: no {Artefact.MASK} to report")
    grid_mask = array_on_grid(sitk.ReadImage(str(mask_path)), volume.geometry)
    source, mask = seg_source(datasets, grid_mask, volume)
    cfg = ctx.cfg.report
    out = write_report(ctx.job_dir, source, mask, info, load_templates(cfg.templates_file),
                       mark_final=cfg.mark_final, key_image=cfg.key_image)
    ctx.result.seg_sop_instance_uid = out.seg_uid
    ctx.result.sr_sop_instance_uid = out.sr_uid
    ctx.result.artefacts["seg"] = ctx.folder.relative(out.seg_path)
    ctx.result.artefacts["sr"] = ctx.folder.relative(out.sr_path)
    if out.key_image_path is not None:
        ctx.result.artefacts["key_image"] = ctx.folder.relative(out.key_image_path)
    else:
        ctx.result.artefacts.pop("key_image", None)


register_stage("report", JobState.REPORTED, "node.report.stage:report_stage")
