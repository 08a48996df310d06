"""The typed search space: bundles written before it still load, manifests keep their exact
JSON, every step kind validates from its manifest form, and a typo in a step fails loudly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from node.classify.bundle import DEMO_BUNDLE, MANIFEST_FILE, load_bundle
from node.classify.search import CLASSIFIERS, ClassifierKind, WorkflowSpec, sample_workflow


def test_committed_bundle_from_before_the_typed_steps_still_loads_and_predicts() -> None:
    bundle = load_bundle(DEMO_BUNDLE)  # model.joblib pickled WorkflowSpec as a plain dataclass
    members = bundle.ensemble.members
    assert members and all(isinstance(m.spec, WorkflowSpec) for m in members)
    assert {m.spec.classifier.kind for m in members} <= {k.value for k in ClassifierKind}


def test_manifest_members_round_trip_to_the_same_json() -> None:
    manifest = json.loads((Path(DEMO_BUNDLE) / MANIFEST_FILE).read_text())
    for member in manifest["members"]:
        spec = {k: v for k, v in member.items() if k not in ("auc", "auc_sd")}
        assert json.dumps(WorkflowSpec.model_validate(spec).to_json()) == json.dumps(spec)


@pytest.mark.parametrize("kind", list(ClassifierKind))
def test_every_kind_survives_json_and_builds(kind: ClassifierKind) -> None:
    spec = sample_workflow(7, ("a", "b", "c"), (kind,))
    again = WorkflowSpec.model_validate_json(json.dumps(spec.to_json()))
    assert again == spec and isinstance(again.classifier, CLASSIFIERS[kind])
    assert again.classifier.build(again.seed) is not None


def test_a_misspelt_step_is_refused() -> None:
    spec = sample_workflow(1, ("a",)).to_json()
    spec["selector"] = {"kind": "mannwhitney", "treshold": 0.05}
    with pytest.raises(ValidationError):
        WorkflowSpec.model_validate(spec)
    spec["selector"] = {"kind": "lasso"}
    with pytest.raises(ValidationError):
        WorkflowSpec.model_validate(spec)


def test_qda_fits_more_features_than_cases() -> None:
    """The bench's 12 % failures were QDA on a singular class covariance (p > n per class)."""
    import numpy as np
    from sklearn.datasets import make_classification

    from node.classify.search import build_pipeline

    X, y = make_classification(60, 150, n_informative=20, random_state=0)
    groups = tuple(f"g{i % 5}" for i in range(150))
    for seed in range(4):
        spec = sample_workflow(seed, tuple(dict.fromkeys(groups)), (ClassifierKind.QDA,))
        spec = spec.model_copy(update={"selector": {"kind": "none"}})
        spec = WorkflowSpec.model_validate(spec.to_json())
        p = build_pipeline(spec, groups).fit(X, y).predict_proba(X)[:, 1]
        assert np.all(np.isfinite(p))
