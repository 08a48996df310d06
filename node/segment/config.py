"""Configuration section ``segment`` (see config.yaml).

The model is an nnU-Net v2 *results* folder. Either point ``results_dir`` straight at a trained
model folder (the one holding ``plans.json``, ``dataset.json`` and ``fold_X/``), or at the root of
an nnU-Net results tree and name ``dataset`` (e.g. ``Dataset800_Lipoma``); the model folder is
then ``results_dir/dataset/<trainer>__<plans>__<configuration>`` as nnU-Net lays it out.
``results_dir: null`` (the default) means the bundled demo model trained on synthetic data
(node/models/demo/seg). Use an absolute path for any other model (a relative one is taken
relative to the working directory).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEMO_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "demo" / "seg"


class DevicePolicy(StrEnum):
    """Where inference runs: ``auto`` = CUDA when present, else CPU."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class SegmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results_dir: Path | None = Field(
        None, description="nnU-Net results root or model folder; None = bundled demo model"
    )
    dataset: str | None = Field(None, description="DatasetXXX_Name below results_dir, if a root")
    trainer: str = "nnUNetTrainer"
    plans: str = "nnUNetPlans"
    configuration: str = "3d_fullres"
    folds: tuple[int | str, ...] = Field((0,), description="folds to ensemble; 'all' allowed")
    checkpoint: str = "checkpoint_final.pth"
    device: DevicePolicy = DevicePolicy.AUTO
    use_mirroring: bool = Field(False, description="test-time augmentation by mirroring (8x cost)")
    tile_step_size: float = Field(0.5, gt=0.0, le=1.0, description="sliding-window step / patch")
    torch_threads: int | None = Field(None, ge=1, description="CPU threads; default min(4, cores)")
    agreement_pass: bool = Field(
        True, description="second, differently mirrored pass so QC can measure agreement"
    )
    drop_fat_pieces: bool = Field(
        True, description="remove mask components that look like normal fat (edge through fat, "
        "along the skin) while a tumour-like component remains (node.segment.cleanup)"
    )
    refine_boundary: bool = Field(
        False, description="take back the rim the model leaves out: add touching voxels with "
        "probability >= refine_low_threshold, then grow up to refine_grow_voxels in-plane into "
        "voxels in the mask's tumour-fat intensity range (stops at a capsule; node.segment.refine)"
    )
    refine_low_threshold: float = Field(0.3, gt=0.0, le=0.5, description="hysteresis threshold")
    refine_grow_voxels: int = Field(1, ge=0, le=3, description="in-plane growth steps")
    refine_grow_min_prob: float = Field(0.02, ge=0.0, le=0.5,
                                        description="growth only where the model gave this probability")

    def model_folder(self) -> Path:
        """The nnU-Net model folder holding ``plans.json`` and ``fold_*``."""
        root = DEMO_MODEL_DIR if self.results_dir is None else self.results_dir
        if self.dataset is None:
            return root
        return root / self.dataset / f"{self.trainer}__{self.plans}__{self.configuration}"
