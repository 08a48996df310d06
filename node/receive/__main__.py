"""``python -m node.receive --config X``: the SCP alone, in the foreground.

``lipo-node serve`` runs the SCP together with the runner and web app; this entry point runs
only the SCP (used by the durability test, which SIGKILLs it, and for debugging a site's
association policy). Stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from node.config import load_config
from node.logs import setup_logging
from node.receive.scp import start_scp
from node.store import Store


def _setup_argparser(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m node.receive", description=__doc__.split("\n")[0])
    p.add_argument("--config", type=Path, default=None, help="config.yaml (default: repository's)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _setup_argparser(argv)
    cfg = load_config(args.config)
    setup_logging(cfg.logging.level, cfg.logging.json_lines,
                  str(cfg.logging.file) if cfg.logging.file else None)
    store = Store(cfg.db_path, cfg.spool_dir, cfg.store)
    server = start_scp(cfg.receive, store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
