"""``lipo-node bench NAME``: benchmarks that write JSON, each comparing against a named peer.

Speed and memory targets are measured here, never by timed tests.
"""

from __future__ import annotations

import argparse
import importlib

_BENCHES = ("ingest", "segment", "radiomics", "automl", "interactive", "e2e", "e2e_celery", "synth",
            "labelmaps")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and write JSON")
    bench_sub = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name in _BENCHES:
        importlib.import_module(f"node.bench.{name}").register(bench_sub)
