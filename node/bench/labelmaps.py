"""``lipo-node bench labelmaps``: CPU seconds per training case of ``synth labelmaps``.

Issue 14 asks for at most 3 s per case on one core at matrix <= 256, so ~500 cases fit a short
run on a 16-core machine. Times the three parts of a case separately (label map, randomisation,
NIfTI writing) in CPU (process) time and wall time, so a loaded machine can be told apart from a
slow generator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("labelmaps", help="seconds per random-label-map training case")
    p.add_argument("--cases", type=int, default=12)
    p.add_argument("--max-matrix", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench-labelmaps.json"))
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from node.synthetic.labelmaps import _write_case, draw_labelmap
    from node.synthetic.randomise import randomise

    cases = []
    for i in range(args.cases):
        rng = np.random.default_rng([args.seed, i])
        c0, w0 = time.process_time(), time.perf_counter()
        lm = draw_labelmap(rng, max_matrix=args.max_matrix)
        c1 = time.process_time()
        randomise(lm.labels, lm.mask, rng)
        c2 = time.process_time()
        wall = time.perf_counter() - w0
        cases.append({"region": lm.meta["region"], "depth": lm.meta["depth_detail"],
                      "shape": list(lm.labels.shape), "labelmap_cpu_s": round(c1 - c0, 3),
                      "randomise_cpu_s": round(c2 - c1, 3), "wall_s": round(wall, 3)})
    with tempfile.TemporaryDirectory() as tmp:   # the full case as the cohort writes it
        writes, walls = [], []
        for i in range(min(6, args.cases)):
            c0, w0 = time.process_time(), time.perf_counter()
            _write_case((i, args.seed, Path(tmp), args.max_matrix))
            writes.append(time.process_time() - c0)
            walls.append(time.perf_counter() - w0)
    result = {
        "bench": "labelmaps", "max_matrix": args.max_matrix, "n_cases": len(cases),
        "target_cpu_s_per_case": 3.0,
        "labelmap_cpu_s_mean": round(statistics.fmean(c["labelmap_cpu_s"] for c in cases), 3),
        "randomise_cpu_s_mean": round(statistics.fmean(c["randomise_cpu_s"] for c in cases), 3),
        "labelmap_cpu_s_max": round(max(c["labelmap_cpu_s"] for c in cases), 3),
        "full_case_cpu_s_mean": round(statistics.fmean(writes), 3) if writes else None,
        "full_case_wall_s_mean": round(statistics.fmean(walls), 3) if walls else None,
        "cases": cases,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}))
    return 0
