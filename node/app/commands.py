"""``lipo-node serve`` (the running node) and ``lipo-node cleanup`` (retention now; ``serve``
also runs it hourly)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the node: DICOM SCP + job runner + HTTP API")
    p.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    p.set_defaults(func=_serve)

    p = sub.add_parser("cleanup", help="remove spool copies of finished jobs past store.retention_days")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.set_defaults(func=_cleanup)


def _serve(args: argparse.Namespace) -> int:
    from node.app.serve import serve
    from node.config import load_config
    from node.logs import setup_logging

    cfg = load_config(getattr(args, "config", None))
    setup_logging(cfg.logging.level, cfg.logging.json_lines,
                  str(cfg.logging.file) if cfg.logging.file else None)
    return serve(cfg)


def _cleanup(args: argparse.Namespace) -> int:
    from node.app.retention import cleanup
    from node.config import load_config

    report = cleanup(load_config(args.config), dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    print(f"{len(report.jobs)} finished job(s): {report.instances} instances, "
          f"{verb} {report.bytes_freed / 1e6:.1f} MB")
    return 0
