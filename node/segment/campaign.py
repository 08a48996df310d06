"""``lipo-node train-campaign``: one bounded training run of both segmentation models.

Why a campaign and not two ``train-*`` calls: a GPU is lent to this project rarely and briefly
(minutes, once), with many CPU cores beside it. The training set is therefore *made on that
machine* (the data would not fit through the transfer), in parallel, and the two models train at
the same time — nnU-Net (the automatic model, fine-tuned from the bundled weights with a poly LR
fitted to the deadline) and the interactive extreme-point model — each under a wall-clock budget.
Every stage writes what it has before the next starts, so a stage that runs out of time still
leaves a usable result and a record of what ran (``campaign.json``).

Training mix (issue 14): SynthSeg-style label-map bodies with random contrasts
(:mod:`node.synthetic.labelmaps`, when present), the twin with domain-randomised contrast
(:mod:`node.synthetic.randomise`) and the twin as rendered (so the twin's own cases stay
solved). Never the hold-out generator (``node.holdout``): it is evaluation only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CampaignPlan:
    labelmap_cases: int = 360
    randomised_cases: int = 120
    twin_cases: int = 120
    seed: int = 2026
    workers: int = 12
    gen_minutes: float = 2.5
    seg_minutes: float = 4.0
    interactive_minutes: float = 2.0
    device: str = "cuda"
    batch_size: int = 8
    iterations_per_epoch: int = 100
    initial_lr: float = 1e-2
    interactive_width: int = 8
    interactive_batch: int = 32
    pretrained: Path | None = None
    interactive_init: Path | None = None


@dataclass
class CampaignRecord:
    plan: dict[str, Any]
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        from node import atomic

        atomic.write_text(path, json.dumps(asdict(self), indent=2, default=str) + "\n")


def _make_case(task: tuple[str, int, str, int]) -> tuple[str, str | None]:
    """One training case (runs in a pool worker); returns (kind, error or None)."""
    kind, index, out, seed = task
    try:
        if kind == "labelmap":
            from node.synthetic.labelmaps import labelmap_case

            labelmap_case(index, Path(out), seed)
        elif kind == "randomised":
            from node.synthetic.randomise import randomised_case

            randomised_case("train", index, Path(out), seed)
        else:
            from node.synthetic.cohort import write_case

            write_case("train", index, Path(out), seed, max_matrix=192)
        return kind, None
    except Exception:
        return kind, traceback.format_exc(limit=3)


def _pool_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def make_training_set(plan: CampaignPlan, out: Path) -> dict[str, Any]:
    """Cases of every kind, interleaved so a deadline cut keeps the mix; returns counts."""
    kinds = [("labelmap", plan.labelmap_cases), ("randomised", plan.randomised_cases),
             ("twin", plan.twin_cases)]
    try:
        import node.synthetic.labelmaps  # noqa: F401
    except ImportError:
        kinds = [(k, n) for k, n in kinds if k != "labelmap"]
    longest = max(n for _, n in kinds)
    tasks = [(k, i, str(out), plan.seed) for i in range(longest) for k, n in kinds if i < n]
    deadline = time.monotonic() + 60 * plan.gen_minutes
    made: dict[str, int] = {}
    errors: list[str] = []
    # spawn, not fork: a forked child of a process with threads (a test runner, a server) can
    # deadlock on a lock some thread held at the fork
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(plan.workers, initializer=_pool_init) as pool:
        results = pool.imap_unordered(_make_case, tasks)
        for _ in tasks:
            try:
                kind, err = results.next(timeout=max(0.1, deadline - time.monotonic()))
            except multiprocessing.TimeoutError:
                break
            if err is None:
                made[kind] = made.get(kind, 0) + 1
            elif len(errors) < 5:
                errors.append(err)
        pool.terminate()
    # a case cut by the deadline may lack its mask: only complete pairs train (cohort_cases)
    return {"made": made, "errors": errors, "requested": dict(kinds)}


def _timed(record: CampaignRecord, name: str, fn: Callable[[], dict[str, Any]], path: Path) -> bool:
    started = time.monotonic()
    try:
        info = fn()
        ok = True
    except Exception:
        info, ok = {"error": traceback.format_exc(limit=6)}, False
    record.stages[name] = {"ok": ok, "seconds": round(time.monotonic() - started, 1), **info}
    record.save(path)
    print(f"[campaign] {name}: {'ok' if ok else 'FAILED'} in {record.stages[name]['seconds']} s",
          flush=True)
    return ok


def _train_interactive(cohort: str, out: str, plan: CampaignPlan) -> None:
    """Child process (not a pool worker: its data loader needs children of its own); the report
    comes back through ``train_report.json``."""
    from node.segment.interactive_train import train_interactive

    train_interactive(Path(cohort), Path(out), minutes=plan.interactive_minutes, seed=plan.seed,
                      width=plan.interactive_width, batch=plan.interactive_batch, threads=2,
                      device=plan.device, workers=4, max_val=24, init_from=plan.interactive_init)


def _join_interactive(proc: multiprocessing.process.BaseProcess, out: Path,
                      timeout_s: float) -> dict[str, Any]:
    proc.join(timeout_s)
    if proc.is_alive():
        proc.terminate()
        raise TimeoutError(f"interactive training still running after {timeout_s:.0f} s")
    report = out / "train_report.json"
    if proc.exitcode != 0 or not report.is_file():
        raise RuntimeError(f"interactive training failed (exit code {proc.exitcode})")
    return json.loads(report.read_text())


def run_campaign(plan: CampaignPlan, out_dir: Path, work_dir: Path) -> CampaignRecord:
    """Data → (nnU-Net ∥ interactive) → ``out_dir/seg`` and ``out_dir/interactive``."""
    from node.segment.slim_plan import SlimPlan
    from node.segment.training import TrainBudget, train_seg

    out_dir.mkdir(parents=True, exist_ok=True)
    record = CampaignRecord(plan={k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()})
    log = out_dir / "campaign.json"
    cohort = work_dir / "cases"
    if not _timed(record, "data", lambda: make_training_set(plan, cohort), log):
        return record

    ctx = multiprocessing.get_context("spawn")  # CUDA in a child: never fork a CUDA parent
    inter_out = out_dir / "interactive"
    side = ctx.Process(target=_train_interactive, args=(str(cohort), str(inter_out), plan))
    side.start()  # the two trainings overlap: nnU-Net here, the interactive model in ``side``

    def seg() -> dict[str, Any]:
        budget = TrainBudget(epochs=1000, iterations_per_epoch=plan.iterations_per_epoch,
                             val_iterations=4, max_minutes=plan.seg_minutes, n_val_cases=8,
                             da_workers=max(1, plan.workers - 6), torch_threads=4,
                             initial_lr=plan.initial_lr, fit_to_deadline=True)
        res = train_seg(cohort, out_dir / "seg", work_dir / "nnunet",
                        slim=SlimPlan(max_features=64, batch_size=plan.batch_size), budget=budget,
                        device=plan.device, preprocess_workers=plan.workers,
                        pretrained=plan.pretrained)
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(res).items()}

    _timed(record, "segmentation", seg, log)
    _timed(record, "interactive",
           lambda: _join_interactive(side, inter_out, 60 * (plan.interactive_minutes + 6)), log)
    return record


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-campaign",
                       help="make a training set and train both segmentation models under a time budget")
    p.add_argument("--out", type=Path, required=True, help="gets seg/, interactive/, campaign.json")
    p.add_argument("--work-dir", type=Path, default=None)
    for name, default in asdict(CampaignPlan()).items():
        if name in ("pretrained", "interactive_init"):
            what = ("nnU-Net checkpoint of the same slim plan" if name == "pretrained"
                    else "interactive model folder of the same width")
            p.add_argument(f"--{name.replace('_', '-')}", type=Path, default=None,
                           help=f"{what} to start from")
            continue
        p.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    values = {k: getattr(args, k) for k in asdict(CampaignPlan())}
    plan = CampaignPlan(**values)
    with tempfile.TemporaryDirectory(prefix="lipo-campaign-") as tmp:
        work = args.work_dir or Path(tmp)
        record = run_campaign(plan, args.out, work)
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "error"} for k, v in record.stages.items()},
                     indent=1, default=str))
    return 0 if all(s["ok"] for s in record.stages.values()) else 1
