"""lipo-node radiomics stage: pyradiomics + WORC feature groups, versioned parameters.

Public API::

    from node.radiomics import load_settings, extract, FeatureVector
    fv = extract(image, mask, load_settings())      # SimpleITK images -> FeatureVector
"""

from node.radiomics.features import (
    FeatureExtractionError,
    FeatureVector,
    extract,
    extract_files,
    feature_group,
)
from node.radiomics.settings import ExtractionSettings, load_settings

__all__ = ["ExtractionSettings", "FeatureExtractionError", "FeatureVector", "extract",
           "extract_files", "feature_group", "load_settings"]
