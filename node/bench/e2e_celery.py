"""Celery throughput: studies per hour with 1 vs 2 ``lipo-node worker`` processes.

``studies_per_hour(cfg, n_studies, workers)`` generates ``n_studies`` small synthetic studies
(node.synthetic), starts a private ``redis-server`` on a free 127.0.0.1 port (no persistence),
and for each worker count: a fresh data folder, the studies ingested through the real Store, a
:class:`node.jobs.celery_runner.CeleryRunner` as ``serve`` would run it, and that many workers
(each ``--queues`` all queues, ``--concurrency 1``). The clock runs from the first dispatch to
the last job finished; worker start-up is excluded (workers are long-lived in production).
The stages are ``cfg.jobs.stages``: with only ``select`` the number measures the dispatch
overhead, with ``segment`` it measures the model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from node.config import NodeConfig, load_config
from node.orthanc.local import free_port

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def redis_server(workdir: Path, timeout_s: float = 15.0) -> Iterator[str]:
    """A throw-away ``redis-server`` on 127.0.0.1 (no RDB, no AOF); yields its base URL."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def write_config(cfg: NodeConfig, path: Path) -> Path:
    """``cfg`` as a YAML file a worker subprocess can load with ``--config``."""
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    return path


def celery_cfg(cfg: NodeConfig, data_dir: Path, redis_url: str) -> NodeConfig:
    """``cfg`` with the celery runner on ``redis_url`` (db 0 broker, db 1 results), ``data_dir``."""
    jobs = cfg.jobs.model_copy(update={
        "runner": "celery",
        "celery": cfg.jobs.celery.model_copy(update={
            "broker_url": f"{redis_url}/0", "result_backend": f"{redis_url}/1"}),
    })
    return cfg.model_copy(update={"data_dir": data_dir, "jobs": jobs})


@contextlib.contextmanager
def worker_processes(config_path: Path, specs: Sequence[tuple[str, str]], log_dir: Path,
            include: Sequence[str] = (), env: dict[str, str] | None = None,
            ready_timeout_s: float = 60.0) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``lipo-node worker`` subprocesses, one per (name, queues); wait until each says
    ``ready`` in its log; SIGTERM them (then SIGKILL) on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, queues in specs:
            cmd = [sys.executable, "-m", "node.cli", "worker", "--config", str(config_path),
                   "--queues", queues, "--concurrency", "1"]
            for module in include:
                cmd += ["--include", module]
            log_path = log_dir / f"worker-{name}.log"
            logs.append(log_path)
            proc_env = {**os.environ, **(env or {}), "LIPO_WORKER_NAME": name}
            with open(log_path, "wb") as fh:
                procs.append(subprocess.Popen(cmd, cwd=REPO, env=proc_env, stdout=fh,
                                              stderr=subprocess.STDOUT))
        deadline = time.monotonic() + ready_timeout_s
        for proc, log_path in zip(procs, logs, strict=True):
            while "ready." not in log_path.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def ingest(cfg: NodeConfig, study_dirs: Sequence[Path]) -> int:
    """Store every DICOM file of ``study_dirs`` through the real Store (as the SCP would)."""
    import pydicom

    from node.store import Store

    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    n = 0
    try:
        for folder in study_dirs:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                try:
                    ds = pydicom.dcmread(path)
                except pydicom.errors.InvalidDicomError:
                    continue
                store.store_instance(ds, transfer_syntax=ds.file_meta.TransferSyntaxUID,
                                     calling_ae="BENCH", raw=path.read_bytes())
                n += 1
    finally:
        store.close()
    return n


def run_batch(cfg: NodeConfig, timeout_s: float) -> float:
    """Discover + dispatch every stored study with a CeleryRunner; seconds until all finished."""
    from node.jobs.celery_runner import CeleryRunner, wait_finished
    from node.jobs.pipeline import Pipeline
    from node.store import Store

    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    runner = CeleryRunner(cfg, Pipeline.from_names(cfg.jobs.stages), store)
    try:
        n = len(store.study_uids())
        started = time.perf_counter()
        if not wait_finished(runner, n, timeout_s):
            raise TimeoutError(f"{n} studies not finished within {timeout_s}s")
        return time.perf_counter() - started
    finally:
        runner.stop(0)
        store.close()


def synth_studies(out: Path, n: int, matrix: int = 64, seed0: int = 7100) -> list[Path]:
    from node.synthetic.study import StudySpec, generate_study

    return [generate_study(out / f"s{i}", StudySpec(seed=seed0 + i, max_matrix=matrix)).study_dir
            for i in range(n)]


def studies_per_hour(cfg: NodeConfig, n_studies: int = 6, workers: Sequence[int] = (1, 2),
                     *, matrix: int = 64, timeout_s: float = 600.0,
                     include: Sequence[str] = ()) -> dict[str, Any]:
    """Studies/hour of ``cfg.jobs.stages`` with each worker count in ``workers`` (same batch)."""
    cfg = cfg.model_copy(update={
        "select": cfg.select.model_copy(update={"quiet_s": 0.0}),
        "jobs": cfg.jobs.model_copy(update={"poll_interval_s": 0.1}),
    })
    out: dict[str, Any] = {"bench": "e2e_celery", "n_studies": n_studies, "matrix": matrix,
                           "stages": list(cfg.jobs.stages), "cpu_count": os.cpu_count(),
                           "runs": []}
    with tempfile.TemporaryDirectory(prefix="lipo-bench-celery-") as tmp:
        root = Path(tmp)
        studies = synth_studies(root / "studies", n_studies, matrix)
        with redis_server(root / "redis") as url:
            for n_workers in workers:
                run_cfg = celery_cfg(cfg, root / f"data-{n_workers}", url)
                ingest(run_cfg, studies)
                path = write_config(run_cfg, root / f"config-{n_workers}.yaml")
                queues = ",".join(sorted({run_cfg.jobs.celery.default_queue,
                                          *run_cfg.jobs.celery.stage_queues.values()}))
                specs = [(f"w{i}", queues) for i in range(n_workers)]
                with worker_processes(path, specs, root, include):
                    seconds = run_batch(run_cfg, timeout_s)
                out["runs"].append({"workers": n_workers, "seconds": round(seconds, 3),
                                    "studies_per_hour": round(3600 * n_studies / seconds, 1)})
    return out


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("e2e-celery", help="studies/hour with 1 vs 2 Celery workers")
    p.add_argument("--n", type=int, default=6, help="synthetic studies in the batch")
    p.add_argument("--workers", default="1,2", help="worker counts to compare")
    p.add_argument("--matrix", type=int, default=64)
    p.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    p.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    cfg = load_config(getattr(args, "config", None))
    result = studies_per_hour(cfg, args.n, [int(w) for w in args.workers.split(",")],
                              matrix=args.matrix)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
