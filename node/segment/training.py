"""``lipo-node train-seg``: WORC cohort → nnU-Net v2 plan/preprocess → slim training → export.

Every step is nnU-Net v2's own API (fingerprint, ``ExperimentPlanner``, ``DefaultPreprocessor``,
``nnUNetTrainer``'s loop); we only shrink the plan (``slim_plan``) and bound the budget
(``trainer.BudgetTrainer``). nnU-Net finds its folders through the ``nnUNet_raw``,
``nnUNet_preprocessed`` and ``nnUNet_results`` environment variables, read lazily in nnunetv2
2.8; :func:`nnunet_env` sets them for the duration of one call only and restores them after.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from node.segment.dataset import convert_cohort
from node.segment.slim_plan import CONFIGURATION, SLIM_PLANS_NAME, SlimPlan, slim_plans
from node.segment.trainer import EXPORT_TRAINER_NAME

CHECKPOINT = "checkpoint_final.pth"
TRAIN_INFO = "training.json"


@dataclass(frozen=True)
class TrainBudget:
    epochs: int = 50
    iterations_per_epoch: int = 50
    val_iterations: int = 5
    max_minutes: float | None = None
    n_val_cases: int = 4
    da_workers: int = 1
    torch_threads: int = 2
    seed: int = 12345
    initial_lr: float = 1e-2  # nnU-Net's default; lower it to fine-tune from ``pretrained``
    fit_to_deadline: bool = False  # with max_minutes: epochs (and poly LR) sized after epoch 1


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    cases: int
    epochs_run: int
    seconds: float
    final_pseudo_dice: float | None
    weights_bytes: int


@contextlib.contextmanager
def nnunet_env(work_dir: Path, extra: dict[str, str] | None = None) -> Iterator[dict[str, Path]]:
    """Point nnU-Net's folder variables at ``work_dir`` for this block only."""
    folders = {k: work_dir / v for k, v in
               (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"),
                ("nnUNet_results", "results"))}
    values = {k: str(v) for k, v in folders.items()} | (extra or {})
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        os.environ[k] = v
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    try:
        yield folders
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def export_model(training_output: Path, fold: int, out_dir: Path) -> Path:
    """Copy an nnU-Net training output to a lean inference folder (no optimizer state).

    Layout as nnU-Net's results folders: ``plans.json``, ``dataset.json``,
    ``dataset_fingerprint.json``, ``fold_<f>/checkpoint_final.pth``. The checkpoint keeps only
    what ``nnUNetPredictor.initialize_from_trained_model_folder`` reads.
    """
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("plans.json", "dataset.json", "dataset_fingerprint.json"):
        shutil.copyfile(training_output / name, out_dir / name)
    ckpt = torch.load(training_output / f"fold_{fold}" / CHECKPOINT, map_location="cpu",
                      weights_only=False)
    lean = {
        "network_weights": ckpt["network_weights"],  # shared tensors stay shared (no clone)
        "init_args": {"configuration": ckpt["init_args"]["configuration"], "fold": fold},
        "trainer_name": EXPORT_TRAINER_NAME,
        "inference_allowed_mirroring_axes": ckpt.get("inference_allowed_mirroring_axes"),
        "current_epoch": ckpt.get("current_epoch"),
    }
    (out_dir / f"fold_{fold}").mkdir(exist_ok=True)
    target = out_dir / f"fold_{fold}" / CHECKPOINT
    torch.save(lean, target)
    return target


def load_pretrained(network: Any, checkpoint: Path) -> bool:
    """Start ``network`` from ``checkpoint``; True when every weight, the heads included, was taken.

    nnU-Net's ``load_pretrained_weights`` re-initialises the final 1×1 segmentation heads (made for
    transfer to another label set). Fine-tuning the same task at a lower learning rate would then
    spend its first epochs re-learning them from random weights, which a short CPU budget cannot
    afford; so the whole state is loaded when it matches and nnU-Net's loader is the fallback."""
    import torch
    from nnunetv2.run.load_pretrained_weights import load_pretrained_weights

    state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)["network_weights"]
    target = network.module if hasattr(network, "module") else network
    own = target.state_dict()
    if own.keys() == state.keys() and all(own[k].shape == v.shape for k, v in state.items()):
        target.load_state_dict(state)
        return True
    load_pretrained_weights(network, str(checkpoint), verbose=False)
    return False


def train_seg(
    cohort_dir: Path,
    out_dir: Path,
    work_dir: Path,
    *,
    slim: SlimPlan = SlimPlan(),
    budget: TrainBudget = TrainBudget(),
    dataset_id: int = 501,
    dataset_name: str = "LipoSynth",
    device: str = "auto",
    max_cases: int | None = None,
    preprocess_workers: int = 2,
    pretrained: Path | None = None,
) -> TrainResult:
    """Train a slim nnU-Net on a WORC cohort and export it to ``out_dir`` (fold 0).

    ``pretrained``: a checkpoint of the same slim architecture to start from (``load_pretrained``:
    every layer, the 1×1 heads too when they match)."""
    import torch
    from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprint_dataset,
        plan_experiment_dataset,
        preprocess_dataset,
    )

    from node.segment.trainer import BudgetTrainer

    start = time.monotonic()
    torch.set_num_threads(budget.torch_threads)
    torch.manual_seed(budget.seed)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    # the planner calls torch.set_num_threads(nnUNet_n_proc_DA): it must be ≥ 1 while planning
    env = {"nnUNet_n_proc_DA": str(max(1, budget.da_workers)), "nnUNet_compile": "false"}
    with nnunet_env(work_dir, env) as folders:
        raw = convert_cohort(cohort_dir, folders["nnUNet_raw"], dataset_id, dataset_name, max_cases,
                             workers=preprocess_workers)
        pre_dir = folders["nnUNet_preprocessed"] / raw.folder.name
        extract_fingerprint_dataset(dataset_id, num_processes=preprocess_workers,
                                    check_dataset_integrity=True, show_progress_bar=False)
        plans, _ = plan_experiment_dataset(dataset_id)
        save_json(slim_plans(plans, slim), str(pre_dir / f"{SLIM_PLANS_NAME}.json"), sort_keys=False)
        preprocess_dataset(dataset_id, SLIM_PLANS_NAME, (CONFIGURATION,), [preprocess_workers],
                           show_progress_bar=False)
        keys = sorted(raw.cases)
        n_val = min(budget.n_val_cases, max(1, len(keys) // 5))
        save_json([{"train": keys[n_val:], "val": keys[:n_val]}], str(pre_dir / "splits_final.json"))
        os.environ["nnUNet_n_proc_DA"] = str(budget.da_workers)  # noqa: SIM112 (nnU-Net spelling)
        torch.set_num_threads(budget.torch_threads)  # the planner changed it
        trainer_plans = load_json(str(pre_dir / f"{SLIM_PLANS_NAME}.json"))
        trainer_plans["continue_training"] = False
        trainer = BudgetTrainer(plans=trainer_plans, configuration=CONFIGURATION, fold=0,
                                dataset_json=load_json(str(pre_dir / "dataset.json")), device=dev)
        max_s = None if budget.max_minutes is None else 60.0 * budget.max_minutes
        trainer.set_budget(budget.epochs, budget.iterations_per_epoch, budget.val_iterations, max_s,
                           budget.initial_lr, budget.fit_to_deadline)
        if pretrained is not None:
            trainer.initialize()
            load_pretrained(trainer.network, pretrained)
        trainer.run_training()
        dice = trainer.logger.get_value("ema_fg_dice", step=-1) if trainer.current_epoch else None
        epochs_run = trainer.current_epoch
        export_model(Path(trainer.output_folder_base), 0, out_dir)
    seconds = time.monotonic() - start
    weights = out_dir / "fold_0" / CHECKPOINT
    result = TrainResult(out_dir, len(raw.cases), epochs_run, round(seconds, 1),
                         None if dice is None else float(dice), weights.stat().st_size)
    info = asdict(result) | {"model_dir": str(out_dir), "slim_plan": asdict(slim),
                             "budget": asdict(budget), "device": dev.type,
                             "cohort": str(cohort_dir),
                             "pretrained": None if pretrained is None else str(pretrained)}
    (out_dir / TRAIN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return result
