"""``serve``: SCP + job runner + Orthanc pull + retention + HTTP (API and worklist) in one process."""

from __future__ import annotations

import logging
import signal
import threading
import time

from node.config import NodeConfig
from node.errors import LipoNodeError
from node.jobs.pipeline import Pipeline
from node.jobs.runner import LocalRunner

log = logging.getLogger(__name__)


def serve(cfg: NodeConfig, stop: threading.Event | None = None) -> int:
    """Run the node until SIGTERM/SIGINT (or ``stop`` is set): SCP, local runner, HTTP app.

    Shutdown order: stop accepting associations, then let running jobs finish (bounded), then
    stop the web server; anything not finished resumes on the next start.
    """
    import uvicorn

    from node.app.retention import retention_loop
    from node.receive import start_scp
    from node.store import Store

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    pipeline = Pipeline.from_names(cfg.jobs.stages)
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    if cfg.jobs.runner == "celery":  # stages run on `lipo-node worker` processes
        from node.jobs.celery_runner import CeleryRunner

        runner: LocalRunner = CeleryRunner(cfg, pipeline, store)
    else:
        runner = LocalRunner(cfg, pipeline, store)
    scp = web = web_thread = None
    try:
        scp = start_scp(cfg.receive, store, on_stored=runner.wake)
        runner.start()
        if cfg.orthanc.pull_enabled:  # sites whose Orthanc does not route to us
            from node.orthanc.client import make_client
            from node.orthanc.pull import OrthancPuller

            puller = OrthancPuller(cfg.orthanc, store, cfg.db_path, make_client(cfg.orthanc),
                                   on_stored=runner.wake)
            threading.Thread(target=puller.run, args=(stop,), name="orthanc-pull", daemon=True).start()
        threading.Thread(target=retention_loop, args=(cfg, stop), name="retention", daemon=True).start()
        if cfg.http.enabled:
            web = uvicorn.Server(uvicorn.Config(node_app(cfg), host=cfg.http.host,
                                                port=cfg.http.port, log_level="warning"))
            web_thread = threading.Thread(target=_run_web, args=(web,), name="http", daemon=True)
            web_thread.start()
            _wait_started(web, web_thread, cfg.http.port)
        log.info("lipo-node serving: DICOM %s:%d, HTTP %s:%d, %d worker(s)", cfg.receive.host,
                 scp.server_address[1], cfg.http.host, cfg.http.port, cfg.jobs.workers)
        stop.wait()
    finally:
        log.info("lipo-node shutting down")
        if scp is not None:
            scp.shutdown()  # no new instances ...
        runner.stop()  # ... running stages get jobs.shutdown_grace_s ...
        if web is not None and web_thread is not None:
            web.should_exit = True  # ... the API answers until the end
            web_thread.join(10)
        store.close()
    return 0


def node_app(cfg: NodeConfig):
    """The served app: /api behind the worklist login, plus the worklist pages."""
    from fastapi import Depends

    from node.worklist.app import create_app
    from node.worklist.auth import require_api_user
    from node.worklist.ui import include_worklist

    deps = [Depends(require_api_user)] if cfg.http.require_login else []
    app = create_app(cfg, api_dependencies=deps)
    include_worklist(app, cfg)
    return app


def _run_web(web: object) -> None:
    try:
        web.run()  # type: ignore[attr-defined]
    except SystemExit:  # uvicorn exits when it cannot bind; _wait_started reports it
        log.error("HTTP server stopped during start-up")


def _wait_started(web: object, thread: threading.Thread, port: int, timeout_s: float = 15.0) -> None:
    """uvicorn binds in its own thread; a port in use must stop ``serve``, not go unnoticed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if getattr(web, "started", False):
            return
        if not thread.is_alive():
            break
        time.sleep(0.05)
    raise LipoNodeError(f"HTTP server did not start on port {port} (in use?)")
