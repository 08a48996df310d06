"""Imports only go down the layers (docs/architecture.md), lazy imports inside functions too:

1. ground: config, errors, logs, vocab, atomic (config also gathers each package's config.py)
2. stage packages: receive, store, select, send, segment, qc, radiomics, classify, report (and
   the libraries evaluate, synthetic) —
   each usable without the job machinery
3. jobs (model, folder, database, pipeline, runners, control) and each package's ``stage.py``,
   the adapter of that package to the pipeline
4. the app: app (serve, retention), worklist, orthanc admin, demo, bench, cli
"""

from __future__ import annotations

import ast
from pathlib import Path

NODE = Path(__file__).resolve().parents[1] / "node"
GROUND = {"config", "errors", "logs", "vocab", "atomic", "dcmtk"}
STAGE_PACKAGES = {"receive", "store", "select", "send", "segment", "qc", "radiomics", "classify", "report",
                  "evaluate", "synthetic"}  # the last two: statistics and the digital twin, libraries
APP = {"app", "worklist", "orthanc", "demo", "bench", "cli"}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "node" else [f"node.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name == "node" or name.startswith("node.")]


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if not top or top in GROUND:
        return 1
    if parts[-1] == "config":  # a package's settings model: read by node.config
        return 1
    if top in STAGE_PACKAGES:
        return 3 if parts[-1] == "stage" else 2
    if top == "jobs":
        return 3
    return 4  # app, worklist, orthanc, demo, bench, cli


def _module(path: Path) -> str:
    rel = path.relative_to(NODE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def violations() -> list[str]:
    out = []
    for path in sorted(NODE.rglob("*.py")):
        here = _module(path)
        for line, target in _imports(path):
            if _layer(target) > _layer(here) and not (here == "node.config" and target.endswith(".config")):
                out.append(f"{here}:{line} imports {target} (layer {_layer(here)} -> {_layer(target)})")
    return out


def test_no_import_goes_up_a_layer():
    assert violations() == []


def test_named_rules_of_the_issue():
    """store/select/send never import jobs or the app; jobs never imports worklist/receive/orthanc."""
    bad = []
    for path in sorted(NODE.rglob("*.py")):
        here = _module(path)
        top = here.split(".")[1] if "." in here else ""
        for line, target in _imports(path):
            ttop = target.split(".")[1] if "." in target else ""
            if top in {"store", "select", "send"} and not here.endswith(".stage") and ttop in {"jobs", *APP}:
                bad.append(f"{here}:{line} {target}")
            if top == "jobs" and ttop in {"worklist", "receive", "orthanc", *APP}:
                bad.append(f"{here}:{line} {target}")
    assert bad == []


def test_the_walk_sees_lazy_imports(tmp_path):
    """A violation inside a function body counts (the check would be toothless otherwise)."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from node.jobs.model import JobState\n")
    assert _imports(probe) == [(2, "node.jobs.model")]
    assert _layer("node.store.store") == 2 and _layer("node.jobs.model") == 3
    assert _layer("node.segment.stage") == 3 and _layer("node.worklist.review") == 4
