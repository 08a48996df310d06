"""``lipo-node cleanup``: apply the retention policy now (``serve`` also runs it hourly)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cleanup", help="remove spool copies of finished jobs past store.retention_days")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.set_defaults(func=_cleanup)


def _cleanup(args: argparse.Namespace) -> int:
    from node.config import load_config
    from node.store.retention import cleanup

    report = cleanup(load_config(args.config), dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    print(f"{len(report.jobs)} finished job(s): {report.instances} instances, "
          f"{verb} {report.bytes_freed / 1e6:.1f} MB")
    return 0
