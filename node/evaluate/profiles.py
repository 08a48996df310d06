"""The report on the synthetic profiles (``python -m node.evaluate.profiles``).

Collects ``<cohorts>/<profile>/predictions_<model>.csv`` (written by ``python -m
node.classify.demo``) for the four profiles of node.synthetic, plus optional
``readers.csv`` per profile, and writes the Table-2 report with the ROC figure. A CSV with a
``split`` column is evaluated as cross-validation (corrected resampled t-test); the demo's
train predictions are out-of-fold means (one row per patient), so they are bootstrapped and
labelled "out-of-fold" in the report.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from node.evaluate.api import CohortFiles, evaluate_and_report, evaluate_files

PROFILES = ("train", "external_a", "external_b", "prospective")
MODELS = ("radiomics", "clinical", "volume", "combined")


def _has_split(path: Path) -> bool:
    with path.open(newline="") as fh:
        return "split" in (next(csv.reader(fh), []) or [])


def collect(cohorts: Path) -> tuple[list[CohortFiles], list[str]]:
    files, notes = [], []
    for prof in PROFILES:
        d = cohorts / prof
        cv = sorted(d.glob("cv_predictions_*.csv")) if prof == "train" else []
        preds = cv or [d / f"predictions_{m}.csv" for m in MODELS
                       if (d / f"predictions_{m}.csv").is_file()]
        if not preds:
            notes.append(f"{prof}: no predictions yet")
            continue
        readers = (d / "readers.csv",) if (d / "readers.csv").is_file() else ()
        name = prof
        if prof == "train" and not any(_has_split(p) for p in preds):
            name = "train (out-of-fold)"
        files.append(CohortFiles(name, tuple(preds), readers))
    return files, notes


def calibration_and_subgroups(cohorts: Path, out: Path, model: str = "radiomics",
                              n_boot: int = 2000, seed: int = 0) -> str:
    """Markdown: calibration (Platt map from the train out-of-fold predictions, applied to the
    test profiles) and subgroup AUCs of ``model``, from the same prediction CSVs and each
    profile's ``labels.csv``; "" when there are no predictions."""
    import pandas as pd

    from node.classify.data import read_labels
    from node.evaluate.calibration import (
        PlattMap,
        calibrate,
        calibration_markdown,
        plot_reliability,
    )
    from node.evaluate.subgroups import subgroup_aucs, subgroups_markdown

    platt = None
    cals, subs = [], []
    for prof in PROFILES:
        path = cohorts / prof / f"predictions_{model}.csv"
        if not path.is_file() or not (cohorts / prof / "labels.csv").is_file():
            continue
        df = pd.read_csv(path, dtype={"Patient": str}).dropna(subset=["prob"])
        if "split" in df:  # CV rows: one mean prediction per patient
            df = df.groupby("Patient", as_index=False).agg(prob=("prob", "mean"))
        labels = read_labels(cohorts / prof)
        df = df.set_index("Patient")
        y = labels.loc[df.index, "y"]
        if prof == "train":  # out-of-fold: where the calibration map is learnt
            platt = PlattMap.fit(y.to_numpy(), df["prob"].to_numpy())
        name = f"{prof} (out-of-fold)" if prof == "train" else prof
        cals.append(calibrate(name, model, y.to_numpy(), df["prob"].to_numpy(),
                              None if prof == "train" else platt, seed=seed))
        subs += subgroup_aucs(name, model, y, df["prob"], labels, n_boot=n_boot, seed=seed)
    if not cals:
        return ""
    png, _ = plot_reliability(cals, Path(out) / "calibration")
    return calibration_markdown(cals, png.name) + "\n" + subgroups_markdown(subs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m node.evaluate.profiles")
    ap.add_argument("--cohorts", type=Path, required=True,
                    help="folder of synthetic cohorts (lipo-node synth cohort --out DIR/<profile>)")
    ap.add_argument("--out", type=Path, default=Path("docs/evaluation"))
    ap.add_argument("--n-boot", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    files, notes = collect(args.cohorts)
    if not files:
        print("no predictions found: " + "; ".join(notes), file=sys.stderr)
        return 1
    results = evaluate_files(files, n_boot=args.n_boot, seed=args.seed)
    intro = (
        "Demo models (node/models/demo, trained on the synthetic `train` profile by "
        "`python -m node.classify.demo`) on the four synthetic profiles of node.synthetic, "
        "evaluated as Spaanderman et al. 2024 Table 2: test cohorts by a 10,000x stratified "
        "bootstrap (percentile 95 % CI), cross-validation by the corrected resampled t-test; "
        "P-values are DeLong's test of each model against the radiomics model. Threshold "
        f"P(ALT) >= 0.5. Predictions read from `{args.cohorts}`. Features come from the cohorts' "
        "truth masks (`segmentation.nii.gz`), as the paper's classifier was evaluated on "
        "reviewed segmentations; with an imperfect automatic mask P(ALT) can change a lot (see "
        "node/models/demo/seg/MODEL_CARD.md). Synthetic data: these numbers "
        "check the machinery, not the method. "
        "Regenerate: `python -m node.evaluate.profiles --cohorts /work/cohorts "
        "--out docs/evaluation`." + (" Missing: " + "; ".join(notes) + "." if notes else ""))
    rep = evaluate_and_report(results, args.out, "lipo-node on the synthetic profiles", intro,
                              seed=args.seed)
    extra = calibration_and_subgroups(args.cohorts, args.out, n_boot=min(args.n_boot, 2000),
                                      seed=args.seed)
    if extra:
        with rep.markdown.open("a") as fh:
            fh.write("\n" + extra)
    print(f"report: {rep.markdown}\nhtml:   {rep.html}\nroc:    {rep.png} {rep.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
