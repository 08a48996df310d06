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


def _old_keys(new, old):
    """``new`` reduced to the keys ``old`` has, recursively through dicts and lists."""
    if isinstance(old, dict):
        return {k: _old_keys(new[k], v) for k, v in old.items()}
    if isinstance(old, list):
        return [_old_keys(n, o) for n, o in zip(new, old, strict=True)]
    return new


def test_old_result_json_loads_typed_and_writes_the_same_strings():
    r = JobResult.model_validate(OLD_RESULT)
    assert r.label is Label.ALT and r.seg_method is SegMethod.INTERACTIVE
    assert r.qc.status is QcStatus.FAIL and r.delivery.status is DeliveryState.DELIVERED
    assert r.quality_score is QualityScore.SUFFICIENT
    again = json.loads(r.model_dump_json())
    for key in ("label", "seg_method", "quality_score", "qc", "delivery"):
        assert again[key] == OLD_RESULT[key], key
    # fields added since (how the series was picked, TR/TE/TI per series) come with their defaults;
    # every old one is written back unchanged
    assert _old_keys(again["selection"], OLD_RESULT["selection"]) == OLD_RESULT["selection"]
    assert again["selection"]["method"] == "automatic" and again["selection"]["picked_by"] is None


def test_each_vocabulary_enum_is_defined_once():
    names = {"Label", "SegMethod", "QcStatus", "QualityScore", "DeliveryState"}
    where: dict[str, list[str]] = {}
    for path in NODE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in names:
                where.setdefault(node.name, []).append(str(path.relative_to(NODE)))
    assert where == {n: ["vocab.py"] for n in names}
