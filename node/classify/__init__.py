"""lipo-node classify stage: WORC-style AutoML ensemble -> P(ALT), OOD flag, model bundles.

Public API::

    from node.classify import load_bundle
    bundle = load_bundle(path)                       # folder with model.joblib + manifest.json
    pred = bundle.predict(feature_vector, clinical)  # -> Prediction(alt_probability, label,
                                                     #    ood_score, ood_flag, model_id, version)
"""

import importlib
from typing import Any

# Lazy exports (PEP 562): ``node.config`` imports this package's ``config`` module, and every
# CLI start would otherwise pay for scikit-learn / pyradiomics imports it does not use.
_EXPORTS = {
    "Bundle": "bundle",
    "Manifest": "bundle",
    "Prediction": "bundle",
    "load_bundle": "bundle",
    "Label": "data",
    "ModelKind": "data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"node.classify.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'node.classify' has no attribute {name!r}")
