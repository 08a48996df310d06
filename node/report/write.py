"""Build SEG + SR (+ key image) for one job and write them durably into the job folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom

from node import atomic
from node.errors import ReportError
from node.report.inputs import ReportInputs, ReportOutput
from node.report.keyimage import build_key_image
from node.report.outline import outline as tumour_outline
from node.report.seg import build_seg, check_source, sort_source
from node.report.sr import build_sr as _build_sr
from node.report.sr import headline
from node.report.templates import Templates, load_templates
from node.report.uids import result_uids

REPORT_DIR = "report"


def load_source(folder: str | Path) -> list[pydicom.Dataset]:
    """Read every DICOM file of one series folder, ordered as :func:`sort_source` does."""
    paths = sorted(p for p in Path(folder).iterdir() if p.is_file())
    if not paths:
        raise ReportError(f"no files in source folder {folder}")
    return sort_source([pydicom.dcmread(p) for p in paths])


def write_report(job_dir: str | Path, source: Sequence[pydicom.Dataset], mask: np.ndarray,
                 info: ReportInputs, templates: Templates | None = None, *,
                 mark_final: bool = False, key_image: bool = True) -> ReportOutput:
    """Build (all checks first), then write ``report/seg-<uid>.dcm``, ``report/sr-<uid>.dcm``
    and, with ``key_image``, the Secondary Capture ``report/key-<uid>.dcm``.

    ``source``/``mask`` follow the frame order documented in :mod:`node.report.seg`. Same
    inputs give the same UIDs and file names, so re-running overwrites with equal content; an
    amended result (``info.amended_from``) gets new files next to the superseded ones.
    """
    tpl = templates or load_templates()
    src = list(source)
    check_source(src, mask)
    uids = result_uids(src[0].SeriesInstanceUID, mask, info, tpl.template_version)
    text = headline(info, tpl)
    amended = tpl.descriptions.amended_prefix if info.amended_from else ""
    seg = build_seg(src, mask, info, tpl, uids, description=amended + tpl.descriptions.seg_series,
                    headline=text)
    contour = tumour_outline(np.asarray(mask))
    sr = _build_sr(src, seg, info, tpl, uids, contour, mark_final=mark_final, headline_text=text)
    sc = build_key_image(src, contour, info, tpl, uids, text) if key_image else None
    out = Path(job_dir) / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    seg_path = out / f"seg-{uids.seg_instance}.dcm"
    sr_path = out / f"sr-{uids.sr_instance}.dcm"
    key_path = out / f"key-{uids.key_image_instance}.dcm" if sc is not None else None
    written = [(seg, seg_path), (sr, sr_path), *([(sc, key_path)] if sc is not None else [])]
    for ds, path in written:
        atomic.write_with(path, lambda tmp, ds=ds: ds.save_as(tmp, enforce_file_format=True))
    return ReportOutput(seg_path=seg_path, sr_path=sr_path, study_uid=str(src[0].StudyInstanceUID),
                        seg_uid=uids.seg_instance, seg_series_uid=uids.seg_series,
                        sr_uid=uids.sr_instance, sr_series_uid=uids.sr_series, headline=text,
                        key_image_path=key_path,
                        key_image_uid=uids.key_image_instance if sc is not None else None,
                        key_image_series_uid=uids.key_image_series if sc is not None else None)
