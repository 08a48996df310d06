"""Job-pipeline stage ``classify``: P(ALT) and the out-of-distribution flag from the bundle."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from node.jobs.model import JobState
from node.jobs.pipeline import register_stage
from node.radiomics.features import FeatureVector

if TYPE_CHECKING:
    from node.classify.bundle import Bundle
    from node.jobs.pipeline import JobContext

#: bundle for ``classify.model: multi_sequence`` when none is configured (not shipped: see
#: docs/evaluation/NOTES.md)
DEMO_MULTI_SEQUENCE_BUNDLE = (Path(__file__).resolve().parents[1] / "models" / "demo"
                              / "classifier_multi_sequence")


@cache
def _bundle(path: Path) -> Bundle:
    from node.classify.bundle import load_bundle

    return load_bundle(path)


def classify_stage(ctx: JobContext) -> None:
    """Raises ModelBundleMismatch when the features came from other extraction settings."""
    from node.classify.bundle import DEMO_BUNDLE
    from node.jobs.folder import Artefact
    from node.jobs.model import ModelRef

    c = ctx.cfg.classify
    bundle = _bundle(Path(c.multi_sequence_bundle or DEMO_MULTI_SEQUENCE_BUNDLE)
                     if c.model == "multi_sequence" else Path(c.bundle or DEMO_BUNDLE))
    features = FeatureVector.from_file(ctx.folder / ctx.result.artefacts.get("features", Artefact.FEATURES))
    pred = bundle.predict(features, None)
    ctx.result.alt_probability = round(pred.alt_probability, 4)
    ctx.result.label = pred.label
    ctx.result.ood_score = round(pred.ood_score, 4)
    ctx.result.ood_flag = pred.ood_flag
    if pred.ood_flag and "out_of_distribution" not in ctx.result.warnings:
        ctx.result.warnings.append("out_of_distribution")
    ctx.result.models = [m for m in ctx.result.models if m.role != "classifier"]
    ctx.result.models.append(ModelRef(role="classifier", model_id=pred.model_id, version=pred.version))


register_stage("classify", JobState.CLASSIFIED, "node.classify.stage:classify_stage")
