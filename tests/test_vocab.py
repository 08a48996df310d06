"""The shared vocabulary: result.json keeps the strings it always had, and one definition serves
every stage (no second Label/SegMethod/QcStatus anywhere in the package)."""

import ast
import json
from pathlib import Path

from node.jobs.model import JobResult
from node.vocab import DeliveryState, Label, QcStatus, QualityScore, SegMethod

NODE = Path(__file__).resolve().parents[1] / "node"

OLD_RESULT = {  # result.json as written before the vocabulary module (plain strings)
    "job_id": "j1", "state": "delivered", "study_uid": "1.2.3", "label": "alt",
    "seg_method": "interactive", "quality_score": "sufficient",
    "qc": {"status": "fail", "reason_codes": ["low_confidence"]},
    "delivery": {"status": "delivered", "destinations": ["pacs"], "detail": ""},
    "selection": {"series_uid": "1.2.3.4", "description": "T1 TSE", "score": 9.0, "margin": 3.0,
                  "uncertain": False, "reasons": ["+5 T1"],
                  "series": [{"series_uid": "1.2.3.4", "description": "T1 TSE", "n_images": 20,
                              "orientation": "axial", "eligible": True, "score": 9.0,
                              "reasons": ["+5 T1"]}]},
}


def test_old_result_json_loads_typed_and_writes_the_same_strings():
    r = JobResult.model_validate(OLD_RESULT)
    assert r.label is Label.ALT and r.seg_method is SegMethod.INTERACTIVE
    assert r.qc.status is QcStatus.FAIL and r.delivery.status is DeliveryState.DELIVERED
    assert r.quality_score is QualityScore.SUFFICIENT
    again = json.loads(r.model_dump_json())
    for key in ("label", "seg_method", "quality_score", "qc", "delivery", "selection"):
        assert again[key] == OLD_RESULT[key], key


def test_each_vocabulary_enum_is_defined_once():
    names = {"Label", "SegMethod", "QcStatus", "QualityScore", "DeliveryState"}
    where: dict[str, list[str]] = {}
    for path in NODE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in names:
                where.setdefault(node.name, []).append(str(path.relative_to(NODE)))
    assert where == {n: ["vocab.py"] for n in names}
