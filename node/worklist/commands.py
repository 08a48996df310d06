"""``lipo-node user add NAME --role reviewer|admin`` and ``lipo-node train-interactive``.

The password comes from an interactive prompt (asked twice) or, for scripts, from stdin with
``--password-stdin``; it is never a command-line argument (visible in ``ps`` and shell history).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path

from node.config import load_config
from node.worklist.users import Role, UserError, UserStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="local worklist users (argon2-hashed passwords in the node db)")
    usub = p.add_subparsers(dest="user_command", required=True)
    ap = usub.add_parser("add", help="create a user")
    ap.add_argument("name")
    ap.add_argument("--role", choices=[r.value for r in Role], default=Role.REVIEWER.value)
    ap.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    ap.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    ap.set_defaults(func=_add)
    pp = usub.add_parser("passwd", help="set a user's password (ends their sessions)")
    pp.add_argument("name")
    pp.add_argument("--password-stdin", action="store_true")
    pp.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    pp.set_defaults(func=_passwd)
    lp = usub.add_parser("list", help="user names and roles")
    lp.add_argument("--config", default=argparse.SUPPRESS, help="config.yaml")
    lp.set_defaults(func=_list)

    t = sub.add_parser("train-interactive", help="train the extreme-point interactive model "
                       "on a WORC cohort (points simulated from the truth masks)")
    t.add_argument("cohort_dir", type=Path)
    t.add_argument("--out", type=Path, required=True, help="model folder (model.pt + meta.json)")
    t.add_argument("--minutes", type=float, default=25.0, help="wall-clock training budget")
    t.add_argument("--width", type=int, default=8, help="channels of the first U-Net level")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--lr", type=float, default=2e-3, help="initial learning rate (poly decay)")
    t.add_argument("--workers", type=int, default=0, help="batch-building loader processes")
    t.add_argument("--patch", type=int, nargs=3, default=None, metavar=("Z", "Y", "X"),
                   help="network input size (default: the code's PATCH)")
    t.add_argument("--init-from", type=Path, default=None, help="model folder to continue from")
    t.add_argument("--val-cohort", type=Path, default=None,
                   help="score this cohort at the end instead of every tenth training case")
    t.add_argument("--max-val", type=int, default=None, help="score at most this many cases")
    t.set_defaults(func=_train)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise UserError("the passwords differ")
    return first


def _store(args: argparse.Namespace) -> UserStore:
    return UserStore(load_config(getattr(args, "config", None)).db_path)


def _add(args: argparse.Namespace) -> int:
    try:
        with _store(args) as store:
            user = store.add_user(args.name, _password(args.password_stdin), args.role)
    except UserError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 2
    print(f"user {user.name} ({user.role.value}) created")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    try:
        with _store(args) as store:
            store.set_password(args.name, _password(args.password_stdin))
    except UserError as exc:
        print(f"error: {exc.code}: {exc}", file=sys.stderr)
        return 2
    print(f"password of {args.name} changed")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        for user in store.users():
            print(f"{user.name}\t{user.role.value}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from node.segment.interactive_net import PATCH
    from node.segment.interactive_train import train_interactive

    report = train_interactive(args.cohort_dir, args.out, minutes=args.minutes, seed=args.seed,
                               width=args.width, batch=args.batch, threads=args.threads, lr=args.lr,
                               workers=args.workers, patch=tuple(args.patch or PATCH),
                               init_from=args.init_from, val_dir=args.val_cohort, max_val=args.max_val)
    print(json.dumps(asdict(report), indent=2))
    return 0
