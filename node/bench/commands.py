"""``lipo-node bench NAME``: benchmarks that write JSON, each comparing against a named peer.

Speed and memory targets are measured here, never by timed tests.
"""

from __future__ import annotations

import argparse
import importlib

_BENCHES = ("ingest", "segment", "radiomics", "automl", "interactive", "e2e")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and write JSON")
    bench_sub = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name in _BENCHES:
        module_name = f"node.bench.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(bench_sub)
