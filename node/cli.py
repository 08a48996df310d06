"""``lipo-node`` command line: parse, load config, call a package function (STYLE.md #8).

Each stage contributes its sub-commands from ``node/<stage>/commands.py`` through
``register(subparsers)``; a sub-command sets ``func(args) -> int`` with ``set_defaults``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from node import __version__
from node.errors import LipoNodeError

_COMMAND_MODULES = (
    "node.app.commands",       # serve, cleanup
    "node.select.commands",    # select
    "node.jobs.commands",      # run, worker, jobs
    "node.synthetic.commands",  # synth study|cohort|preview
    "node.segment.commands",   # train-seg, train-interactive
    "node.classify.commands",  # train-classifier, classify
    "node.radiomics.commands",  # features
    "node.evaluate.commands",  # evaluate
    "node.report.commands",    # report
    "node.send.commands",      # outbox
    "node.worklist.commands",  # user add
    "node.orthanc.commands",   # orthanc status|send|results|resend|pull
    "node.demo",               # demo
    "node.bench.commands",     # bench ingest|segment|radiomics|automl|interactive|e2e
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lipo-node",
        description="DICOM node: T1 selection, nnU-Net segmentation and P(ALT) for lipomatous tumours",
    )
    parser.add_argument("--version", action="version", version=f"lipo-node {__version__}")
    parser.add_argument("--config", default=None, help="config.yaml (default: the repository's)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:  # `lipo-node jobs list | head -1`: the reader has all it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 0
    except LipoNodeError as exc:
        print(f"lipo-node: error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
