"""``lipo-node send enqueue|process|status|dead|requeue``: operate the delivery outbox."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from node.config import NodeConfig, load_config

if TYPE_CHECKING:
    from node.send.outbox import Outbox


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("send", help="delivery outbox: C-STORE / STOW-RS with confirmation")
    ssub = p.add_subparsers(dest="send_cmd", required=True)
    e = ssub.add_parser("enqueue", help="queue result files of a job for a destination")
    e.add_argument("job_id")
    e.add_argument("files", nargs="+", type=Path)
    e.add_argument("--to", action="append", default=None, help="destination name (default: all)")
    e.set_defaults(func=_enqueue)
    pr = ssub.add_parser("process", help="work due items (once, or --loop until interrupted)")
    pr.add_argument("--loop", action="store_true")
    pr.set_defaults(func=_process)
    s = ssub.add_parser("status", help="delivery status of a job (JSON)")
    s.add_argument("job_id")
    s.set_defaults(func=_status)
    d = ssub.add_parser("dead", help="list dead-letter items")
    d.set_defaults(func=_dead)
    r = ssub.add_parser("requeue", help="give a dead item fresh attempts")
    r.add_argument("item_id", type=int)
    r.set_defaults(func=_requeue)


def _outbox(args: argparse.Namespace) -> tuple[Outbox, NodeConfig]:
    from node.send.outbox import Outbox

    cfg = load_config(args.config)
    return Outbox(cfg.db_path, cfg.send), cfg


def _enqueue(args: argparse.Namespace) -> int:
    ob, cfg = _outbox(args)
    names = args.to or cfg.send.default_destinations or [d.name for d in cfg.send.destinations]
    for name in names:
        print(ob.enqueue(args.job_id, args.files, name))
    return 0


def _process(args: argparse.Namespace) -> int:
    ob, cfg = _outbox(args)
    while True:
        for item in ob.process_due():
            print(json.dumps({"id": item.id, "job_id": item.job_id, "state": item.state.value,
                              "attempts": item.attempts, "error": item.last_error}))
        if not args.loop:
            return 0
        time.sleep(cfg.send.poll_interval_s)


def _status(args: argparse.Namespace) -> int:
    ob, _ = _outbox(args)
    print(ob.status(args.job_id).model_dump_json(indent=2))
    return 0


def _dead(args: argparse.Namespace) -> int:
    ob, _ = _outbox(args)
    for item in ob.dead_letters():
        print(item.model_dump_json())
    return 0


def _requeue(args: argparse.Namespace) -> int:
    ob, _ = _outbox(args)
    print(ob.requeue(args.item_id).model_dump_json())
    return 0
