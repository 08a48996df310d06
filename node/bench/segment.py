"""``lipo-node bench segment``: seconds per case for the demo model, with and without TTA.

The pipeline timed per case is what a job runs: read the DICOM series and build the volume
(``geometry.read_series``), nnU-Net inference (``Segmenter.predict``), QC (``run_qc``) and the
mask back in source-frame order for the SEG writer (``seg_source``). Reported per mode:
seconds per case (mean, median), network forward time, nnU-Net inference time (network plus
its normalisation/resampling), the share of pipeline time outside inference (target ≤ 20 %)
and the peak RSS of the process that ran the mode (each mode runs in its own spawned process).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SHARE_OUTSIDE = 0.20


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("segment", help="seconds/case, RSS and overhead share of segmentation")
    p.add_argument("--series", type=Path, nargs="*", default=None,
                   help="DICOM series folders (default: generate synthetic studies)")
    p.add_argument("--cases", type=int, default=3, help="synthetic studies to generate")
    p.add_argument("--max-matrix", type=int, default=256, help="in-plane matrix of those studies")
    p.add_argument("--model", type=Path, default=None, help="model folder (default: config)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: config)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                   help="cuda: full-resolution inference on the GPU, peak GPU memory reported")
    p.add_argument("--shape", type=int, nargs=3, default=None, metavar=("Z", "Y", "X"),
                   help="resample each study to this grid first (e.g. 40 512 512, a full-res study)")
    p.add_argument("--out", type=Path, default=Path("bench-segment.json"))
    p.set_defaults(func=_run)


def _synthetic_series(root: Path, n: int, max_matrix: int) -> list[Path]:
    """T1 series folders of ``n`` freshly generated synthetic studies (seeds 9000+)."""
    from node.synthetic.study import StudySpec, generate_study

    folders = []
    for i in range(n):
        study = generate_study(root / f"study{i}", StudySpec(seed=9000 + i, max_matrix=max_matrix))
        folders.append(Path(study.t1_series_dir))
    return folders


def _resampled(volume: Any, shape: tuple[int, int, int]) -> Any:
    """``volume`` on a ``shape`` grid covering the same field of view (linear interpolation)."""
    from dataclasses import replace

    import numpy as np
    from scipy import ndimage

    from node.segment.geometry import Geometry

    g = volume.geometry
    factors = [n / o for n, o in zip(shape, g.shape, strict=True)]
    array = ndimage.zoom(volume.array, factors, order=1).astype(np.float32)
    sx, sy, sz = g.spacing
    spacing = (sx / factors[2], sy / factors[1], sz / factors[0])
    geometry = Geometry(g.origin, spacing, g.direction, tuple(array.shape))
    return replace(volume, array=array, geometry=geometry, source_order=tuple(range(array.shape[0])))


def _time_mode(model: str, cfg_json: str, series: list[str],
               shape: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """Runs in a child process: load once, warm up, then time every case."""
    import pydicom
    import torch

    from node.qc.checks import run_qc
    from node.qc.config import QcConfig
    from node.segment.config import SegmentConfig
    from node.segment.geometry import read_series, seg_source
    from node.segment.nnunet import Segmenter

    cfg = SegmentConfig.model_validate_json(cfg_json)
    t_load = time.perf_counter()
    segmenter = Segmenter(Path(model), cfg)
    load_s = time.perf_counter() - t_load
    rows = []
    for i, folder in enumerate([series[0], *series]):  # first case twice: warm-up
        t0 = time.perf_counter()
        datasets = [pydicom.dcmread(str(p)) for p in sorted(Path(folder).iterdir()) if p.is_file()]
        volume = read_series(datasets)
        if shape is not None:
            volume = _resampled(volume, shape)
        if segmenter.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        mask = segmenter.predict(volume)
        run_qc(mask, None, False, QcConfig())
        if shape is None:
            seg_source(datasets, mask.array, volume)
        total = time.perf_counter() - t0
        timing = segmenter.last_timing
        if i == 0 or timing is None:
            continue
        row = {"shape": list(volume.geometry.shape), "total_s": total,
               "inference_s": timing.inference_s, "network_s": timing.network_s}
        if segmenter.device == "cuda":
            row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        rows.append(row)
    tot = sum(r["total_s"] for r in rows)
    return {
        "model_load_s": round(load_s, 3),
        "seconds_per_case_mean": round(statistics.fmean(r["total_s"] for r in rows), 3),
        "seconds_per_case_median": round(statistics.median(r["total_s"] for r in rows), 3),
        "network_s_mean": round(statistics.fmean(r["network_s"] for r in rows), 3),
        "inference_s_mean": round(statistics.fmean(r["inference_s"] for r in rows), 3),
        "share_outside_inference": round((tot - sum(r["inference_s"] for r in rows)) / tot, 4),
        "share_outside_network": round((tot - sum(r["network_s"] for r in rows)) / tot, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": segmenter.device,
        "peak_gpu_mb": (round(max(r["peak_gpu_mb"] for r in rows), 1)
                        if segmenter.device == "cuda" else None),
        "cases": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    }


def run_bench(model: Path, cfg: Any, series: list[Path], device: str = "cpu",
              shape: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """Time both modes, each in a fresh process (separate peak RSS / GPU memory)."""
    import torch

    from node.segment.config import DevicePolicy

    ctx = multiprocessing.get_context("spawn")
    modes = {}
    for name, tta in (("no_tta", False), ("tta", True)):
        mode_cfg = cfg.model_copy(update={"use_mirroring": tta, "device": DevicePolicy(device)})
        with ctx.Pool(1) as pool:
            modes[name] = pool.apply(_time_mode, (str(model), mode_cfg.model_dump_json(),
                                                  [str(s) for s in series], shape))
    share = modes["no_tta"]["share_outside_inference"]
    return {
        "bench": "segment",
        "model": str(model),
        "device": modes["no_tta"]["device"],
        "study_shape": list(shape) if shape else "as acquired",
        "cpu": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": cfg.torch_threads,
        "agreement_pass": cfg.agreement_pass,
        "tile_step_size": cfg.tile_step_size,
        "cuda_available": torch.cuda.is_available(),
        "gpu_path": ("timed" if modes["no_tta"]["device"] == "cuda" else
                     "not timed: no GPU was lent to the session that produced this benchmark"),
        "n_cases": len(series),
        "modes": modes,
        "target_share_outside_inference": TARGET_SHARE_OUTSIDE,
        "meets_target": share <= TARGET_SHARE_OUTSIDE,
    }


def _run(args: argparse.Namespace) -> int:
    from node.config import load_config

    cfg = load_config(args.config).segment
    if args.threads is not None:
        cfg = cfg.model_copy(update={"torch_threads": args.threads})
    model = args.model or cfg.model_folder()
    with tempfile.TemporaryDirectory(prefix="bench-seg-") as tmp:
        series = args.series or _synthetic_series(Path(tmp), args.cases, args.max_matrix)
        result = run_bench(model, cfg, series, device=args.device,
                           shape=tuple(args.shape) if args.shape else None)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "modes"}, indent=2))
    for name, mode in result["modes"].items():
        print(f"{name}: {mode['seconds_per_case_mean']} s/case, "
              f"{100 * mode['share_outside_inference']:.1f} % outside inference, "
              f"peak RSS {mode['peak_rss_mb']} MB, peak GPU {mode['peak_gpu_mb']} MB")
    return 0
