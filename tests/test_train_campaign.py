"""The GPU training campaign's parts, small and on the CPU (the campaign itself needs a GPU)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import SimpleITK as sitk  # noqa: N813
from segment_helpers import make_tiny_cohort

from node.segment.campaign import CampaignPlan, make_training_set
from node.segment.dataset import convert_cohort
from node.segment.trainer import BudgetTrainer


def _trainer(epoch: int, seconds_left: float) -> BudgetTrainer:
    t = BudgetTrainer.__new__(BudgetTrainer)  # the schedule logic only; no nnU-Net set-up
    t.current_epoch, t.num_epochs = epoch, 1000
    t.deadline = time.monotonic() + seconds_left
    t.fit_to_deadline = True
    t.lr_scheduler = SimpleNamespace(max_steps=1000)
    t.print_to_log_file = lambda *a, **k: None
    return t


def test_epochs_and_poly_schedule_are_fitted_to_the_deadline() -> None:
    t = _trainer(epoch=1, seconds_left=100.0)
    t._refit_epochs(epoch_seconds=10.0)
    assert t.num_epochs in (10, 11) and t.lr_scheduler.max_steps == t.num_epochs
    late = _trainer(epoch=3, seconds_left=-5.0)  # past the deadline: one more epoch at most
    late._refit_epochs(epoch_seconds=10.0)
    assert late.num_epochs == 4 and late.lr_scheduler.max_steps == 4


def test_the_plan_follows_the_epoch_time_all_run_long_not_just_the_first_epochs() -> None:
    """A run that starts while other work shares the CPU must not stop early once it speeds up."""
    t = _trainer(epoch=1, seconds_left=300.0)
    t._epoch_done(30.0)  # contended first epoch
    assert t.num_epochs in (10, 11)
    t.current_epoch = 5
    t._epoch_done(10.0)
    assert t.num_epochs in (14, 15)  # median of 30 and 10 is 30: one fast epoch changes nothing
    t._epoch_done(10.0)
    assert t.num_epochs in (34, 35) and t.lr_scheduler.max_steps == t.num_epochs
    t._epoch_done(60.0)  # one slow epoch (a checkpoint, a burst of other work) does not cut it
    assert t.num_epochs in (34, 35)


def test_training_set_mixes_kinds_and_survives_a_deadline(tmp_path: Path) -> None:
    plan = CampaignPlan(labelmap_cases=3, randomised_cases=0, twin_cases=0, workers=2, gen_minutes=3.0)
    info = make_training_set(plan, tmp_path / "cases")
    assert info["made"] == {"labelmap": 3} and not info["errors"]
    for case in sorted((tmp_path / "cases").iterdir()):
        img = sitk.ReadImage(str(case / "image.nii.gz"))
        seg = sitk.ReadImage(str(case / "segmentation.nii.gz"))
        assert img.GetSize() == seg.GetSize() and sitk.GetArrayViewFromImage(seg).any()
        assert json.loads((case / "truth.json").read_text())["generator"].startswith("lipo-synth-labelmaps")
    cut = CampaignPlan(labelmap_cases=50, randomised_cases=0, twin_cases=0, workers=2, gen_minutes=0.002)
    started = time.monotonic()
    info = make_training_set(cut, tmp_path / "cut")
    assert time.monotonic() - started < 60 and info["made"].get("labelmap", 0) < 50


def test_parallel_dataset_conversion_matches_serial(tmp_path: Path) -> None:
    cohort = make_tiny_cohort(tmp_path / "cohort", 4, seed=5)
    one = convert_cohort(cohort, tmp_path / "raw1", 911, "One", workers=1)
    two = convert_cohort(cohort, tmp_path / "raw2", 912, "Two", workers=2)
    assert one.cases == two.cases
    for cid in one.cases:
        a = sitk.GetArrayFromImage(sitk.ReadImage(str(one.folder / "labelsTr" / f"{cid}.nii.gz")))
        b = sitk.GetArrayFromImage(sitk.ReadImage(str(two.folder / "labelsTr" / f"{cid}.nii.gz")))
        assert (a == b).all()


def test_interactive_training_with_loader_workers_saves_a_loadable_model(tmp_path: Path) -> None:
    from node.segment.interactive_net import InteractiveNet
    from node.segment.interactive_train import train_interactive

    cohort = make_tiny_cohort(tmp_path / "cohort", 6, seed=11)
    report = train_interactive(cohort, tmp_path / "model", minutes=0.05, batch=2, workers=1, max_val=1)
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert meta["device"] == "cpu" and meta["batch"] == 2 and report.n_val == 1
    assert InteractiveNet.load(tmp_path / "model").model_id == report.model_id
