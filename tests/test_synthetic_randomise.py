"""SynthSeg-style randomisation of the twin's label maps (issue 14): tumour fat stays as bright as
normal fat, everything else varies; the truth mask survives a partial-FOV crop."""

from __future__ import annotations

import numpy as np

from node.synthetic.enums import Tissue
from node.synthetic.randomise import FAT_TISSUES, RandomisationConfig, randomise, tissue_means


def test_tumour_fat_matches_normal_fat_in_every_draw() -> None:
    cfg = RandomisationConfig()
    for seed in range(50):
        m = tissue_means(np.random.default_rng(seed), cfg)
        fat = [m[t] for t in FAT_TISSUES]
        assert max(fat) / min(fat) < 1.11


def test_contrast_of_non_fat_tissue_varies_between_draws() -> None:
    muscle = {round(float(tissue_means(np.random.default_rng(s), RandomisationConfig())[Tissue.muscle]), 2)
              for s in range(20)}
    assert len(muscle) > 10


def test_randomise_keeps_the_tumour_inside_a_cropped_field_of_view() -> None:
    labels = np.full((6, 4, 64, 64), Tissue.muscle, np.uint8)
    labels[:, :, 20:30, 20:30] = Tissue.tumour_fat
    mask = np.zeros((6, 64, 64), np.uint8)
    mask[:, 20:30, 20:30] = 1
    cfg = RandomisationConfig(p_partial_fov=1.0, p_ghost=0.0)
    image, out_mask = randomise(labels, mask, np.random.default_rng(1), cfg)
    assert image.shape == out_mask.shape and out_mask.sum() == mask.sum()
    assert image[out_mask > 0].mean() > 0
