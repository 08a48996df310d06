"""Tiny labelled profiles for evaluation/classifier tests: one generated pool split by label."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from node.synthetic.cohort import generate_cohort


def split_profiles(root: Path, pool_profile: str, n: int, max_matrix: int,
                   take: dict[str, tuple[int, int]]) -> dict[str, Path]:
    """Generate ``n`` patients of ``pool_profile`` and copy them into ``root/<profile>/`` (with its
    own labels.csv): ``take[profile] = (start, stop)`` slices both the ALT and the lipoma lists, so
    every profile holds both classes and no patient is in two profiles."""
    pool = root / "pool"
    generate_cohort(pool_profile, n, pool, max_matrix=max_matrix)
    labels = pd.read_csv(pool / "labels.csv", dtype={"Patient": str})
    alt = labels[labels.label == "alt"].Patient.tolist()
    lip = labels[labels.label == "lipoma"].Patient.tolist()
    need = max(stop for _, stop in take.values())
    assert len(alt) >= need and len(lip) >= need, "pool too small for the split"
    out = {}
    for prof, (start, stop) in take.items():
        pats = alt[start:stop] + lip[start:stop]
        (root / prof).mkdir()
        for p in pats:
            shutil.copytree(pool / p, root / prof / p)
        labels[labels.Patient.isin(pats)].to_csv(root / prof / "labels.csv", index=False)
        out[prof] = root / prof
    return out


#: radiomics parameters light enough for CI (first order, shape, GLCM; no filters)
LIGHT_PARAMS = """version: test_light
pyradiomics: {binCount: 16, voxelArrayShift: 300, label: 1, minimumROIDimensions: 1,
              minimumROISize: 1, geometryTolerance: 1.0e-3, correctMask: true,
              additionalInfo: false}
texture_classes: [firstorder, shape, glcm]
log_sigma_mm: []
lbp: null
extra: {orientation: true, gabor: null, vesselness: null, phase: null}
"""
