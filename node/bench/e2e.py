"""``lipo-node bench e2e``: seconds from the last instance received to the SR stored in Orthanc.

A 256²×24-class synthetic study is C-STOREd straight to a real ``lipo-node serve`` (bundled demo
models, CPU unless a GPU is present) whose destination is a temporary Orthanc; the clock starts
when the node acknowledges the last instance and stops when Orthanc lists the SR. The study
quiet timer (``select.quiet_s``) is inside that interval and reported separately. With
``--celery`` it also reports studies/hour with 1 vs 2 Celery workers
(:func:`node.bench.e2e_celery.studies_per_hour`) on the full pipeline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node.config import REPO_DIR, load_config
from node.demo import NODE_AET, cstore_folder, first_job, wait_http, write_node_config
from node.orthanc.local import LocalOrthanc, free_port


def latency(quiet_s: float = 2.0, seed: int = 7, timeout_s: float = 900.0) -> dict[str, Any]:
    from orthanc_api_client import OrthancApiClient

    from node.orthanc.admin import results
    from node.synthetic.study import StudySpec, generate_study

    with tempfile.TemporaryDirectory(prefix="lipo-bench-e2e-") as tmp:
        root = Path(tmp)
        study = generate_study(root / "study", StudySpec(seed=seed, max_matrix=256))
        orthanc = LocalOrthanc(root / "orthanc")
        node_port, http_port = free_port(), free_port()
        orthanc.configure(node_aet=NODE_AET, node_port=node_port, forward=False)
        orthanc.start()
        cfg_file = write_node_config(root, orthanc, node_port, http_port)
        text = cfg_file.read_text().replace("quiet_s: 2.0", f"quiet_s: {quiet_s}")
        cfg_file.write_text(text)
        log = (root / "node.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(cfg_file), "serve"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_DIR)
        try:
            wait_http(f"http://127.0.0.1:{http_port}/healthz", proc, 180)
            n = sum(cstore_folder(s.folder, node_port) for s in study.series)
            t_last = time.monotonic()
            client = OrthancApiClient(orthanc.url)
            cfg = load_config(cfg_file)
            t_sr = None
            while time.monotonic() - t_last < timeout_s:
                if any(r.modality == "SR" for r in results(client)):
                    t_sr = time.monotonic()
                    break
                row = first_job(cfg)
                if row is not None and row.state.value in ("needs_review", "failed"):  # no SR coming
                    break
                time.sleep(0.25)
            timings, state = _job_timings(cfg)
        finally:
            proc.terminate()
            proc.wait(60)
            orthanc.stop()
            log.close()
    t1 = study.meta.get("t1_shape_zyx")
    return {"instances": n, "t1_shape_zyx": t1, "quiet_s": quiet_s,
            "seconds_last_instance_to_sr_in_orthanc": None if t_sr is None else round(t_sr - t_last, 2),
            "job_state": state, "stage_seconds": timings, "target_s": 30.0}


def _job_timings(cfg) -> tuple[dict[str, float], str | None]:
    from node.jobs.folder import JobFolder

    row = first_job(cfg)
    if row is None:
        return {}, None
    res = JobFolder.of(cfg, row.job_id).read_result()
    return res.timings_s, res.state.value


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("e2e", help="last instance received -> SR in Orthanc (s); Celery throughput")
    p.add_argument("--quiet-s", type=float, default=2.0, help="study quiet timer used")
    p.add_argument("--celery", action="store_true", help="also studies/hour with 1 vs 2 Celery workers")
    p.add_argument("--n", type=int, default=4, help="studies in the Celery batch")
    p.add_argument("--out", type=Path, default=Path("bench-e2e.json"))
    p.add_argument("--config", default=argparse.SUPPRESS)
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    import os

    out: dict[str, Any] = {"bench": "e2e", "cpu_count": os.cpu_count(), "latency": latency(args.quiet_s)}
    if args.celery:
        from node.bench.e2e_celery import studies_per_hour
        from node.demo import PIPELINE

        cfg = load_config(getattr(args, "config", None))
        cfg = cfg.model_copy(update={"jobs": cfg.jobs.model_copy(update={"stages": PIPELINE[:-1]})})
        out["celery"] = studies_per_hour(cfg, args.n, (1, 2), matrix=128)
    text = json.dumps(out, indent=2)
    args.out.write_text(text + "\n")
    print(text)
    return 0
