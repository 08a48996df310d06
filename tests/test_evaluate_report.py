"""``lipo-node evaluate predictions|cv``: CSVs in, Table-2 report + ROC figure out."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from node.cli import main
from node.evaluate.predictions import PredictionFileError, read_predictions
from node.evaluate.resampling import random_splits


def _write(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def cohort(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(0)
    n = 90
    y = (rng.random(n) < 0.45).astype(int)
    pid = [f"ext-{i:03d}" for i in range(n)]
    files, probs = [], {}
    for model, shift in (("radiomics", 1.6), ("volume", 0.8)):
        s = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + shift * (2 * y - 1)))), 4)
        probs[model] = s
        files.append(_write(tmp_path / f"predictions_{model}.csv", ["Patient", "label", "prob"],
                            [(p, "alt" if v else "lipoma", f"{x:.4f}")
                             for p, v, x in zip(pid, y, s, strict=True)]))
    readers = []
    for name in ("Radiologist 1", "Radiologist 2"):
        score = np.clip(np.round(5.5 + 2 * (rng.normal(size=n) + (2 * y - 1))), 1, 10)
        readers += [(p, v, int(x), name, int(x >= 6)) for p, v, x in zip(pid, y, score, strict=True)]
    rfile = _write(tmp_path / "readers.csv", ["Patient", "label", "prob", "model", "decision"],
                   readers)
    return {"y": y, "probs": probs, "files": files, "readers": rfile, "dir": tmp_path}


def test_predictions_report_has_table2_rows_and_figures(cohort, tmp_path):
    out = tmp_path / "report"
    args = ["evaluate", "predictions", "--n-boot", "500", "--out", str(out),
            "--readers", f"ext={cohort['readers']}"]
    for f in cohort["files"]:
        args += ["--cohort", f"ext={f}"]
    assert main(args) == 0
    md = (out / "report.md").read_text()
    y = cohort["y"]
    for model, s in cohort["probs"].items():
        assert f"| {model} | {roc_auc_score(y, s):.2f} [" in md
    assert "Radiologist 1 (reader)" in md and "Cohen's kappa: Radiologist 1 vs Radiologist 2" in md
    assert "DeLong vs radiomics" in md
    html = (out / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and "roc.png" in html
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.parse(out / "roc.svg").getroot()
    assert root.tag.endswith("svg")


def test_report_is_reproducible_with_a_seed(cohort, tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"r{k}"
        args = ["evaluate", "predictions", "--n-boot", "300", "--seed", "5", "--out", str(out)]
        for f in cohort["files"]:
            args += ["--cohort", f"ext={f}"]
        assert main(args) == 0
        outs.append((out / "report.md").read_text())
    assert outs[0] == outs[1]


def test_cv_predictions_use_the_corrected_t_test(tmp_path):
    rng = np.random.default_rng(1)
    n = 100
    y = (rng.random(n) < 0.5).astype(int)
    rows = []
    per_split = []
    for k, (_, te) in enumerate(random_splits(y, 20, 0.2, seed=0)):
        s = 1 / (1 + np.exp(-(rng.normal(size=te.size) + 1.2 * (2 * y[te] - 1))))
        per_split.append(roc_auc_score(y[te], s))
        rows += [(f"tr-{i:03d}", y[i], f"{x:.6f}", "radiomics", k) for i, x in zip(te, s, strict=True)]
    f = _write(tmp_path / "cv.csv", ["Patient", "label", "prob", "model", "split"], rows)
    out = tmp_path / "cv"
    assert main(["evaluate", "cv", "--cohort", f"train={f}", "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "corrected resampled t-test" in md and "mean over 20 random" in md
    assert f"| radiomics | {np.mean(per_split):.2f} [" in md


def cohort_free_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "plain.csv", ["Patient", "label", "prob"],
                  [("a", "alt", "0.9"), ("b", "lipoma", "0.2"), ("c", "alt", "0.4")])


def test_bad_predictions_file_is_a_named_error(tmp_path, capsys):
    bad = _write(tmp_path / "bad.csv", ["Patient", "label", "prob"], [("a", "maybe", "0.3")])
    with pytest.raises(PredictionFileError, match="neither alt"):
        read_predictions(bad)
    nocol = _write(tmp_path / "nocol.csv", ["Patient", "prob"], [("a", "0.3")])
    assert main(["evaluate", "predictions", "--cohort", f"x={nocol}", "--out",
                 str(tmp_path / "o")]) == 2
    assert "bad_predictions_file" in capsys.readouterr().err
    assert main(["evaluate", "predictions", "--cohort", f"{nocol}", "--out",
                 str(tmp_path / "o")]) == 2
    assert main(["evaluate", "cv", "--cohort", f"x={cohort_free_file(tmp_path)}", "--out",
                 str(tmp_path / "o")]) == 2
    assert "no split column" in capsys.readouterr().err
    twice = _write(tmp_path / "twice.csv", ["Patient", "label", "prob"],
                   [("a", "alt", "0.3"), ("a", "alt", "0.4")])
    with pytest.raises(PredictionFileError, match="appears twice"):
        read_predictions(twice)


def test_rows_without_a_probability_are_counted_not_scored(tmp_path):
    f = _write(tmp_path / "predictions_radiomics.csv", ["Patient", "label", "prob"],
               [("a", "alt", "0.9"), ("b", "lipoma", "0.2"), ("c", "alt", ""), ("d", "lipoma", "nan"),
                ("e", "alt", "0.6"), ("f", "lipoma", "0.7")])
    (p,) = read_predictions(f)
    assert p.model == "radiomics" and p.n_missing == 2 and list(p.patients) == ["a", "b", "e", "f"]
    out = tmp_path / "o"
    assert main(["evaluate", "predictions", "--cohort", f"x={f}", "--n-boot", "200",
                 "--out", str(out)]) == 0
    assert "radiomics (2 without prediction)" in (out / "report.md").read_text()
