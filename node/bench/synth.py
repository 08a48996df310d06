"""``lipo-node bench synth``: seconds per synthetic study (and per cohort case) on this machine.

SYNTHETIC.md asks for a default study in a few seconds on one CPU core and reserves 512 x 60
for benchmarks. Reports wall and CPU (process) time per study, so a loaded machine can be told
apart from a slow generator. (The lead wires ``synth`` into ``node/bench/commands.py``.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("synth", help="seconds per synthetic study / cohort case")
    p.add_argument("--studies", type=int, default=3)
    p.add_argument("--cases", type=int, default=5, help="cohort cases (T1 + mask only)")
    p.add_argument("--max-matrix", type=int, default=256)
    p.add_argument("--enhanced", action="store_true")
    p.add_argument("--out", type=Path, default=Path("bench-synth.json"))
    p.set_defaults(func=_run)


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def _run(args: argparse.Namespace) -> int:
    from node.synthetic import StudySpec, draw_case, generate_study, get_profile
    from node.synthetic.cohort import render_t1_case

    studies, cases = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.studies):
            spec = StudySpec(seed=7000 + i, max_matrix=args.max_matrix, enhanced=args.enhanced)
            w0, c0 = time.perf_counter(), time.process_time()
            r = generate_study(Path(tmp) / f"s{i}", spec)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            studies.append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                            "t1_shape_zyx": r.meta["t1_shape_zyx"], "series": len(r.series)})
    prof = get_profile("train")
    for i in range(args.cases):
        wall, cpu = _timed(lambda i=i: render_t1_case(draw_case(prof, 8000 + i)))
        cases.append({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)})
    result = {
        "bench": "synth", "max_matrix": args.max_matrix, "enhanced": args.enhanced,
        "study_wall_s_mean": round(statistics.fmean(s["wall_s"] for s in studies), 3) if studies else None,
        "study_cpu_s_mean": round(statistics.fmean(s["cpu_s"] for s in studies), 3) if studies else None,
        "case_cpu_s_mean": round(statistics.fmean(c["cpu_s"] for c in cases), 3) if cases else None,
        "studies": studies, "cases": cases,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("studies", "cases")}))
    return 0
