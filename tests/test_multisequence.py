"""Multi-sequence radiomics: patient motion in the twin, elastix mask transfer, feature layout.

The registration test renders one synthetic case's T2 on its own grid with the patient moved,
registers the T1 onto it with the versioned elastix parameter files and scores the carried
mask against the truth rendered on the T2 grid (the node never sees that truth).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.errors import ModelBundleMismatch
from node.radiomics.features import FeatureVector, feature_group
from node.radiomics.multiseq import SLOTS, combine, is_multi_sequence, multi_hash
from node.radiomics.register import header_transfer, load_registration, transfer_mask
from node.radiomics.sequences import slot_of
from node.synthetic.anatomy import build_phantom
from node.synthetic.cohort import render_t1_case
from node.synthetic.draws import draw_case
from node.synthetic.motion import draw_motion, sample_moved
from node.synthetic.planning import plan_t1
from node.synthetic.profiles import get_profile
from node.synthetic.render import sample
from node.synthetic.sequences import SeqSlot, render_sequences


def _dice(a: sitk.Image, b: sitk.Image) -> float:
    x, y = sitk.GetArrayViewFromImage(a) > 0, sitk.GetArrayViewFromImage(b) > 0
    return 2.0 * float((x & y).sum()) / float(x.sum() + y.sum())


def test_synthetic_slots_are_the_node_slots() -> None:
    assert tuple(s.value for s in SeqSlot) == SLOTS


def test_motion_moves_the_anatomy_but_not_the_header() -> None:
    case = draw_case(get_profile("external_a"), 11)
    ph = build_phantom(case)
    grid = plan_t1(case, ph, np.random.default_rng(0), max_matrix=128).grid
    still = sample(ph, grid)
    motion = draw_motion(case.seed, 3, np.zeros(3), shift_sd_mm=0.0, rotation_sd_deg=0.0)
    assert np.array_equal(sample_moved(ph, grid, motion).labels, still.labels)
    shifted = type(motion)((0.0, 0.0, 0.0), (6.0, 0.0, 0.0), motion.centre)
    moved = sample_moved(ph, grid, shifted)
    assert moved.grid == grid                       # header geometry unchanged
    idx = lambda m: np.argwhere(m.mask() > 0)[:, ::-1].mean(0) * np.asarray(grid.spacing_xyz)  # noqa: E731
    shift_lps = (idx(moved) - idx(still)) @ grid.direction.T
    assert shift_lps[0] == pytest.approx(6.0, abs=1.0)   # the tumour moved 6 mm along x


def test_registered_mask_matches_truth_on_the_sequence_grid() -> None:
    case = draw_case(get_profile("external_a"), 5)
    rc = render_t1_case(case, max_matrix=160)
    t1 = rc.sampled.grid.to_sitk(rc.image.astype(np.float32))
    t1_mask = rc.sampled.grid.to_sitk(rc.mask)
    (seq,) = render_sequences(case, max_matrix=160, slots=(SeqSlot.T2,))
    assert max(abs(v) for v in seq.motion.shift_mm) > 0.5   # the patient did move
    tr = transfer_mask(t1, t1_mask, sitk.Cast(seq.image, sitk.sitkFloat32), load_registration())
    d_reg = _dice(tr.mask, seq.truth)
    d_header = _dice(header_transfer(t1_mask, seq.image), seq.truth)
    assert d_reg >= 0.85, (d_reg, d_header)
    assert d_reg > d_header - 0.01
    assert tr.seconds > 0


def test_multi_vector_keeps_t1_names_and_leaves_missing_sequences_to_imputation() -> None:
    t1 = FeatureVector(("original_glcm_Contrast", "original_shape_VoxelVolume"), (1.0, 2.0), "abc")
    t2 = FeatureVector(t1.names, (3.0, 4.0), "abc")
    v = combine(t1, {"t2": t2}, "reg1")
    d = v.as_dict()
    assert v.names[:2] == t1.names and is_multi_sequence(v.names)
    assert d["t2:original_glcm_Contrast"] == 3.0
    assert all(math.isnan(d[f"{s}:original_glcm_Contrast"]) for s in ("t1fs", "t1gd"))
    assert v.settings_hash == multi_hash("abc", "reg1") != multi_hash("abc", "reg2")
    assert feature_group("t2:original_glcm_Contrast") == "t2:glcm"
    assert feature_group("t1gd:log-sigma-1-0-mm-3D_firstorder_Mean") == "t1gd:log"


def test_registration_settings_hash_covers_the_stage_files(tmp_path) -> None:
    reg = load_registration()
    for f in reg.stage_files():
        (tmp_path / f.name).write_text(f.read_text())
    yaml_text = (reg.folder / "registration_v1.yaml").read_text()
    (tmp_path / "registration_v1.yaml").write_text(yaml_text)
    assert load_registration(tmp_path / "registration_v1.yaml").settings_hash == reg.settings_hash
    stage = tmp_path / reg.stages[-1]
    stage.write_text(stage.read_text().replace("(MaximumNumberOfIterations 250)",
                                               "(MaximumNumberOfIterations 100)"))
    assert load_registration(tmp_path / "registration_v1.yaml").settings_hash != reg.settings_hash


def test_series_slots_follow_the_fired_selection_rules() -> None:
    assert slot_of({"t1_physics", "fat_sat", "contrast"}) == ("t1gd", "post-contrast")
    assert slot_of({"stir"})[0] == "t2"
    assert slot_of({"t2_physics", "fat_sat"})[0] == "t2"
    assert slot_of({"t1_physics", "fat_sat"})[0] == "t1fs"
    assert slot_of({"t1_physics"}) is None                      # the plain T1 fills no slot
    assert slot_of({"t1_physics", "contrast", "derived"}) is None   # reformats never


def test_multi_sequence_bundle_refuses_t1_only_features() -> None:
    from pathlib import Path

    from node.classify.bundle import load_bundle
    from node.classify.stage import DEMO_MULTI_SEQUENCE_BUNDLE

    if not (Path(DEMO_MULTI_SEQUENCE_BUNDLE) / "manifest.json").is_file():
        pytest.skip("no multi-sequence demo bundle installed")
    b = load_bundle(DEMO_MULTI_SEQUENCE_BUNDLE)
    assert is_multi_sequence(b.manifest.feature_names)
    t1_only = FeatureVector(("original_shape_VoxelVolume",), (1.0,), "deb2472a8d18a4bc")
    with pytest.raises(ModelBundleMismatch):
        b.predict(t1_only)
