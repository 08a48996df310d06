"""``lipo-node bench radiomics``: seconds per case, our WORC feature set vs pyradiomics defaults.

Both run on the same image/mask pairs in the same process (warm-up excluded). "Ours" is
:func:`node.radiomics.extract` with the bundled parameter file (z-score, crop, 2.5D, LoG,
LBP, Gabor, vesselness, phase, orientation); "pyradiomics defaults" is
``RadiomicsFeatureExtractor()`` unchanged (original image, all classes, bin width 25, 3D).
Target: ≤ 3 s/case for 256² × 24. Cases come from a WORC cohort folder or are generated
(ellipsoid lesion with septa in 256² × 24 noise, 0.8 × 0.8 × 5 mm).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGET_S_PER_CASE = 3.0


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("radiomics", help="seconds/case: our feature set vs pyradiomics "
                             "defaults")
    p.add_argument("--cohort", type=Path, default=None,
                   help="WORC cohort folder (default: generated 256x256x24 phantoms)")
    p.add_argument("--cases", type=int, default=5)
    p.add_argument("--params", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("bench-radiomics.json"))
    p.set_defaults(func=_run)


def _phantom(seed: int):
    import SimpleITK as sitk  # noqa: N813

    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[:24, :256, :256]
    r = rng.uniform(25, 45)
    m = (((xx - 128) / r) ** 2 + ((yy - 128) / (0.7 * r)) ** 2 + ((zz - 12) / 7.0) ** 2) < 1
    arr = rng.normal(100, 15, m.shape)
    arr[m] = rng.normal(400, 20, int(m.sum()))
    arr[m & ((xx % 9) < 2)] -= 150
    img = sitk.GetImageFromArray(arr.astype(np.float32))
    img.SetSpacing((0.8, 0.8, 5.0))
    mask = sitk.GetImageFromArray(m.astype(np.uint8))
    mask.CopyInformation(img)
    return img, mask


def _cases(args: argparse.Namespace) -> list[tuple[str, Any, Any]]:
    import SimpleITK as sitk  # noqa: N813

    from node.radiomics.cohort import IMAGE_NAME, MASK_NAME, cohort_cases

    if args.cohort is None:
        return [(f"phantom{i}", *_phantom(i)) for i in range(args.cases)]
    names = cohort_cases(args.cohort)[: args.cases]
    return [(n, sitk.ReadImage(str(args.cohort / n / IMAGE_NAME)),
             sitk.ReadImage(str(args.cohort / n / MASK_NAME))) for n in names]


def _time(fn, cases) -> tuple[list[float], int]:
    fn(cases[0][1], cases[0][2])  # warm-up (imports, extractor construction)
    times, n = [], 0
    for _, img, msk in cases:
        t = time.perf_counter()
        n = fn(img, msk)
        times.append(time.perf_counter() - t)
    return times, n


def _run(args: argparse.Namespace) -> int:
    import radiomics
    from radiomics import featureextractor

    from node.radiomics import extract, load_settings

    radiomics.setVerbosity(logging.ERROR)
    settings = load_settings(args.params)
    cases = _cases(args)
    plain = featureextractor.RadiomicsFeatureExtractor()

    def ours(img, msk) -> int:
        return len(extract(img, msk, settings).names)

    def defaults(img, msk) -> int:
        import SimpleITK as sitk  # noqa: N813

        binary = sitk.Cast(msk > 0, sitk.sitkUInt8)
        return sum(1 for k in plain.execute(img, binary, label=1)
                   if not k.startswith("diagnostics_"))

    t_ours, n_ours = _time(ours, cases)
    t_def, n_def = _time(defaults, cases)
    result = {
        "bench": "radiomics",
        "cases": [c[0] for c in cases],
        "sizes": [list(c[1].GetSize()) for c in cases],
        "ours": {"s_per_case_mean": statistics.mean(t_ours),
                 "s_per_case_median": statistics.median(t_ours), "n_features": n_ours,
                 "settings_hash": settings.settings_hash, "per_case_s": t_ours},
        "pyradiomics_defaults": {"s_per_case_mean": statistics.mean(t_def),
                                 "s_per_case_median": statistics.median(t_def),
                                 "n_features": n_def, "per_case_s": t_def},
        "target_s_per_case": TARGET_S_PER_CASE,
        "meets_target": statistics.median(t_ours) <= TARGET_S_PER_CASE,
        "cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
        "python": platform.python_version(), "pyradiomics": radiomics.__version__,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("ours", "pyradiomics_defaults", "meets_target",
                                             "load_avg_1m")}, default=str)[:600])
    return 0
