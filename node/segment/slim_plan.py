"""A slim nnU-Net v2 plan: coarse spacing, small patch, few features → small, fast model.

nnU-Net's own ``ExperimentPlanner`` sizes the network for a GPU (features up to 320, patch as
large as ~10 GB of VRAM allows). For a CPU demo we keep nnU-Net's topology rules
(``get_pool_and_conv_props``: pooling only along axes whose spacing is within 2× of the finest,
bottleneck edge ≥ 4 voxels) but choose the spacing, patch and feature caps ourselves, and
store the result as an ordinary configuration in an ordinary plans file, so nnU-Net's
preprocessing, training and ``nnUNetPredictor`` use it unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

SLIM_PLANS_NAME = "lipoSlimPlans"
CONFIGURATION = "3d_fullres"


@dataclass(frozen=True)
class SlimPlan:
    """Knobs of the slim plan; spacing and patch are (z, y, x) in nnU-Net's axis order."""

    spacing_mm: tuple[float, float, float] = (4.0, 2.0, 2.0)
    patch_size: tuple[int, int, int] = (24, 96, 96)
    base_features: int = 16
    max_features: int = 128
    batch_size: int = 2
    min_bottleneck_edge: int = 4
    max_pool: int = 5

    def __post_init__(self) -> None:
        if any(s <= 0 for s in self.spacing_mm):
            raise ValueError(f"spacing must be positive, got {self.spacing_mm}")
        if any(p < 8 for p in self.patch_size):
            raise ValueError(f"patch edges must be ≥ 8 voxels, got {self.patch_size}")
        if not 4 <= self.base_features <= self.max_features:
            raise ValueError("need 4 <= base_features <= max_features")
        if self.batch_size < 1:
            raise ValueError("batch_size must be ≥ 1")


def slim_plans(plans: dict[str, Any], slim: SlimPlan) -> dict[str, Any]:
    """Return a copy of nnU-Net ``plans`` whose only configuration is the slim ``3d_fullres``."""
    from nnunetv2.experiment_planning.experiment_planners.network_topology import (
        get_pool_and_conv_props,
    )

    if CONFIGURATION not in plans["configurations"]:
        raise ValueError(f"plans have no {CONFIGURATION} configuration to slim down")
    out = copy.deepcopy(plans)
    base = out["configurations"][CONFIGURATION]
    old_spacing = base["spacing"]
    spacing = [float(s) for s in slim.spacing_mm]
    _n_pool, pool_kernels, conv_kernels, patch, _div = get_pool_and_conv_props(
        spacing, list(slim.patch_size), slim.min_bottleneck_edge, slim.max_pool
    )
    n_stages = len(pool_kernels)
    features = [min(slim.base_features * 2**i, slim.max_features) for i in range(n_stages)]
    arch = base["architecture"]["arch_kwargs"]
    arch.update(
        n_stages=n_stages,
        features_per_stage=features,
        kernel_sizes=[list(k) for k in conv_kernels],
        strides=[list(s) for s in pool_kernels],
        n_conv_per_stage=[2] * n_stages,
        n_conv_per_stage_decoder=[2] * (n_stages - 1),
    )
    base.update(
        data_identifier=f"{SLIM_PLANS_NAME}_{CONFIGURATION}",
        batch_size=slim.batch_size,
        patch_size=[int(p) for p in patch],
        spacing=spacing,
        median_image_size_in_voxels=[
            round(n * o / s, 1)
            for n, o, s in zip(base["median_image_size_in_voxels"], old_spacing, spacing, strict=True)
        ],
    )
    out["configurations"] = {CONFIGURATION: base}
    out["plans_name"] = SLIM_PLANS_NAME
    return out
