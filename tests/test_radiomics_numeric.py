"""pyradiomics results to floats: complex eigen-derived shape values must not crash extraction."""

import numpy as np

from node.radiomics.features import _numeric


def test_complex_shape_values_keep_their_real_part_and_diagnostics_are_dropped() -> None:
    got = _numeric({"original_shape_LeastAxisLength": np.array(12.5 + 1e-9j),
                    "original_firstorder_Mean": np.float64(3.0), "diagnostics_Versions": "x"})
    assert got == {"original_shape_LeastAxisLength": 12.5, "original_firstorder_Mean": 3.0}
