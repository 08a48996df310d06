"""lipo-node classify stage: WORC-style AutoML ensemble -> P(ALT), OOD flag, model bundles.

Public API::

    from node.classify import load_bundle
    bundle = load_bundle(path)                       # folder with model.joblib + manifest.json
    pred = bundle.predict(feature_vector, clinical)  # -> Prediction(alt_probability, label,
                                                     #    ood_score, ood_flag, model_id, version)
"""

from node.classify.bundle import Bundle, Manifest, Prediction, load_bundle
from node.classify.data import Label, ModelKind

__all__ = ["Bundle", "Label", "Manifest", "ModelKind", "Prediction", "load_bundle"]
