"""Build the bundled demo classifier from the synthetic cohorts (``python -m node.classify.demo``).

For each profile with a ``labels.csv`` under ``--cohorts``: extract features (cached) and
write ``<profile>/features.csv``. Then, for each model kind (radiomics, clinical, volume,
combined): outer CV on ``train`` (out-of-fold predictions + corrected CI), a final bundle on
all of ``train``, predictions for every profile written to
``<profile>/predictions_<kind>.csv`` (Patient,label,prob,ood_score,ood_flag; train =
out-of-fold), the radiomics bundle + MODEL_CARD.md into ``--out`` and the other kinds'
bundles into ``<out>_<kind>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from node.classify import card
from node.classify.bundle import Bundle
from node.classify.config import ClassifyConfig
from node.classify.data import ModelKind
from node.classify.train import cohort_matrix, cross_validate, default_version, train_bundle
from node.radiomics.cohort import extract_cohort, write_features_csv
from node.radiomics.settings import load_settings

PROFILES = ("train", "external_a", "external_b", "prospective")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m node.classify.demo")
    ap.add_argument("--cohorts", type=Path, required=True,
                    help="folder of synthetic cohorts (lipo-node synth cohort --out DIR/<profile>)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1]
                    / "models" / "demo" / "classifier")
    ap.add_argument("--results", type=Path, default=None,
                    help="where <profile>/features.csv and predictions_*.csv go "
                    "(default: --cohorts)")
    ap.add_argument("--cache", type=Path, default=Path("var/radiomics_cache"))
    ap.add_argument("--n-workflows", type=int, default=200)
    ap.add_argument("--top-k", type=int, default=20)
    ap.add_argument("--cv-repeats", type=int, default=5)
    ap.add_argument("--cv-workflows", type=int, default=60)
    ap.add_argument("--other-workflows", type=int, default=80,
                    help="workflows for the clinical/volume/combined models")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--kinds", nargs="*", default=[k.value for k in ModelKind])
    args = ap.parse_args(argv)
    results_root = args.results or args.cohorts

    settings = load_settings()
    feats: dict[str, pd.DataFrame] = {}
    for prof in PROFILES:
        root = args.cohorts / prof
        if not (root / "labels.csv").is_file():
            print(f"skip {prof}: no labels.csv", file=sys.stderr)
            continue
        df = extract_cohort(root, settings, n_jobs=args.n_jobs, cache_dir=args.cache)
        (results_root / prof).mkdir(parents=True, exist_ok=True)
        write_features_csv(df, results_root / prof / "features.csv", settings.settings_hash)
        feats[prof] = df
    if "train" not in feats:
        print("no train cohort", file=sys.stderr)
        return 1
    results: dict[str, list[card.CohortResult]] = {}
    main_bundle = None
    for kind_name in args.kinds:
        kind = ModelKind(kind_name)
        nw = args.n_workflows if kind is ModelKind.RADIOMICS else args.other_workflows
        cfg = ClassifyConfig(n_workflows=nw, top_k=min(args.top_k, nw), seed=0,
                             n_jobs=args.n_jobs)
        X, y, enc, _ = cohort_matrix(args.cohorts / "train", kind, feats["train"])
        summary, oof = cross_validate(X, y, cfg, args.cv_repeats,
                                      min(args.cv_workflows, nw), progress=False)
        bundle = train_bundle(X, y, kind, enc, cfg,
                              settings_hash=settings.settings_hash, cohort_name="train",
                              model_id=f"lipo-demo-{kind.value}", version=default_version(),
                              progress=False)
        bundle.manifest.cv.update(summary)
        rows = []
        for prof, df in feats.items():
            Xp, yp, _, lab = cohort_matrix(args.cohorts / prof, kind, df, bundle.encoder)
            prob, ood = bundle.predict_rows(Xp.reindex(columns=bundle.manifest.feature_names)
                                            .to_numpy(dtype=float))
            if prof == "train":
                prob = oof
            flags = ood > bundle.manifest.ood_threshold
            pd.DataFrame({"Patient": lab.index, "label": lab["label"].to_numpy(),
                          "prob": prob, "ood_score": ood, "ood_flag": flags}).to_csv(
                results_root / prof / f"predictions_{kind.value}.csv", index=False)
            name = f"{prof} (out-of-fold)" if prof == "train" else prof
            ok = np.isfinite(prob)
            rows.append(card.evaluate(name, yp[ok], prob[ok], flags[ok]))
        results[kind.value] = rows
        print(json.dumps({"kind": kind.value, "cv": {k: v for k, v in summary.items()
                                                     if k != "aucs"},
                          "cohorts": [r.__dict__ for r in rows]}), flush=True)
        if kind is ModelKind.RADIOMICS:
            main_bundle = bundle
            main_bundle.save(args.out)
        else:  # the comparison models, next to the demo bundle (not used by the pipeline)
            bundle.save(args.out.with_name(f"{args.out.name}_{kind.value}"))
        if main_bundle is not None:  # card rewritten after every kind: partial runs still useful
            _write_card(args, main_bundle, results, feats)
    return 0


def _write_card(args: argparse.Namespace, bundle: Bundle,
                results: dict[str, list[card.CohortResult]], feats: dict[str, pd.DataFrame]
                ) -> None:
    repro = (f"python -m node.classify.demo --cohorts {args.cohorts} --n-workflows "
             f"{args.n_workflows} --top-k {args.top_k} --cv-repeats {args.cv_repeats} "
             f"--cv-workflows {args.cv_workflows} --other-workflows {args.other_workflows} "
             f"--n-jobs {args.n_jobs}")
    missing = [p for p in PROFILES if p not in feats]
    partial = {p: len(df) for p, df in feats.items()}
    notes = (f"Profiles missing when this card was written: {', '.join(missing)}. "
             if missing else "") + f"Cases per profile used: {partial}."
    card.write(args.out / "MODEL_CARD.md", card.render(bundle, results, repro, notes))


if __name__ == "__main__":
    sys.exit(main())
