"""lipo-node radiomics stage: pyradiomics + WORC feature groups, versioned parameters.

Public API::

    from node.radiomics import load_settings, extract, FeatureVector
    fv = extract(image, mask, load_settings())      # SimpleITK images -> FeatureVector
"""

import importlib
from typing import Any

# Lazy exports (PEP 562): ``node.config`` imports this package's ``config`` module, and every
# CLI start would otherwise pay for scikit-learn / pyradiomics imports it does not use.
_EXPORTS = {
    "FeatureExtractionError": "features",
    "FeatureVector": "features",
    "extract": "features",
    "extract_files": "features",
    "feature_group": "features",
    "ExtractionSettings": "settings",
    "load_settings": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"node.radiomics.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'node.radiomics' has no attribute {name!r}")
