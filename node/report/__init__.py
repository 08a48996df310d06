"""lipo-node report stage: DICOM SEG + TID 1500 SR (highdicom), filled from dicom_templates/.

Public API::

    tpl = load_templates(path=None)                       # dicom_templates/lipo_node_v1.json
    src = sort_source(datasets)  /  load_source(folder)   # frame order of the mask
    out = write_report(job_dir, src, mask, ReportInputs(...), tpl) -> ReportOutput
    build_seg(...), build_sr(...)                         # the objects without writing
"""

from node.report.inputs import PreviousResult, ReportInputs, ReportOutput
from node.report.seg import build_seg, sort_source
from node.report.sr import build_sr, headline
from node.report.templates import Templates, load_templates
from node.report.uids import ResultUids, mask_digest, result_uids
from node.report.write import load_source, write_report
from node.vocab import Label, QcStatus, SegMethod

__all__ = [
    "Label", "PreviousResult", "QcStatus", "ReportInputs", "ReportOutput", "ResultUids",
    "SegMethod", "Templates", "build_seg", "build_sr", "headline", "load_source", "load_templates",
    "mask_digest", "result_uids", "sort_source", "write_report",
]
