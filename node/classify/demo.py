"""Build the bundled demo classifier from the synthetic cohorts (``python -m node.classify.demo``).

For each profile with a ``labels.csv`` under ``--cohorts``: extract features (cached) and
write ``<profile>/features.csv``. Then, for each model kind (radiomics, clinical, volume,
combined): outer CV on ``train`` (out-of-fold predictions + corrected CI), a final bundle on
all of ``train``, predictions for every profile written to
``<profile>/predictions_<kind>.csv`` (Patient,label,prob,ood_score,ood_flag; train =
out-of-fold), the radiomics bundle + MODEL_CARD.md into ``--out`` and the other kinds'
bundles into ``<out>_<kind>``.

Mask-robust training (issue 16): ``--mask-copies K`` adds K perturbed truth masks per training
case (:mod:`node.classify.maskaug`: dilation/erosion, fat leak, dropped lobe/slice/nodules) to
the image models' training rows, with every split drawn over patients. ``--eval-perturbed M``
also scores each profile on M perturbed masks per case drawn with another seed (a stand-in for
the workflow's masks), written as ``predictions_<kind>_perturbed.csv``. ``--calibrate`` fits a
Platt map on the training cohort's out-of-fold P(ALT) and stores it in the bundle.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from node.classify import card
from node.classify.bundle import Bundle, load_bundle
from node.classify.config import ClassifyConfig
from node.classify.data import ModelKind, model_frame
from node.classify.maskaug import perturbed_cohort_features
from node.classify.train import cohort_matrix, cross_validate, default_version, train_bundle
from node.evaluate.calibration import PlattMap
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
    ap.add_argument("--params", type=Path, default=None,
                    help="radiomics parameter YAML (default: the node's worc_v2)")
    ap.add_argument("--n-workflows", type=int, default=200)
    ap.add_argument("--top-k", type=int, default=20)
    ap.add_argument("--cv-repeats", type=int, default=5)
    ap.add_argument("--cv-workflows", type=int, default=60)
    ap.add_argument("--other-workflows", type=int, default=80,
                    help="workflows for the clinical/volume/combined models")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--kinds", nargs="*", default=[k.value for k in ModelKind])
    ap.add_argument("--profiles", nargs="*", default=list(PROFILES),
                    help="profiles to score (train is always needed)")
    ap.add_argument("--mask-copies", type=int, default=0,
                    help="perturbed truth masks per training case added to the image models' "
                    "training rows (0 = reference masks only)")
    ap.add_argument("--mask-seed", type=int, default=0)
    ap.add_argument("--eval-perturbed", type=int, default=0, metavar="M",
                    help="also score every profile on M perturbed masks per case (seed "
                    "--mask-seed + 1000, never the training copies)")
    ap.add_argument("--perturbed-profiles", nargs="*", default=None,
                    help="profiles scored on perturbed masks (default: every test profile)")
    ap.add_argument("--calibrate", action="store_true",
                    help="Platt map on the training out-of-fold P(ALT), stored in the bundle")
    ap.add_argument("--score-only", action="store_true",
                    help="train nothing: score the profiles with the bundles already in --out "
                    "(and <out>_<kind>), the train out-of-fold predictions read back from "
                    "--results, and rewrite the card (for profiles rendered after training)")
    args = ap.parse_args(argv)
    results_root = args.results or args.cohorts

    settings = load_settings(args.params) if args.params else load_settings()
    feats: dict[str, pd.DataFrame] = {}
    for prof in args.profiles:
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
    pert_train = pert_eval = None
    if args.mask_copies and not args.score_only:
        pert_train = perturbed_cohort_features(
            args.cohorts / "train", settings, copies=args.mask_copies, seed=args.mask_seed,
            n_jobs=args.n_jobs, cache_dir=args.cache, patients=list(feats["train"].index))
    if args.eval_perturbed:
        pert_eval = {prof: perturbed_cohort_features(
            args.cohorts / prof, settings, copies=args.eval_perturbed,
            seed=args.mask_seed + 1000, n_jobs=args.n_jobs, cache_dir=args.cache,
            patients=list(df.index)) for prof, df in feats.items()
            if prof != "train" and (args.perturbed_profiles is None
                                    or prof in args.perturbed_profiles)}
        for prof, (_, info) in pert_eval.items():
            info.to_csv(results_root / prof / "perturbed_masks.csv", index=False)
    results: dict[str, list[card.CohortResult]] = {}
    main_bundle = None
    for kind_name in args.kinds:
        kind = ModelKind(kind_name)
        nw = args.n_workflows if kind is ModelKind.RADIOMICS else args.other_workflows
        cfg = ClassifyConfig(n_workflows=nw, top_k=min(args.top_k, nw), seed=0,
                             n_jobs=args.n_jobs)
        path = args.out if kind is ModelKind.RADIOMICS else args.out.with_name(
            f"{args.out.name}_{kind.value}")
        if args.score_only:
            bundle = load_bundle(path)
            oof = pd.read_csv(results_root / "train" / f"predictions_{kind.value}.csv",
                              dtype={"Patient": str}).set_index("Patient").loc[
                                  feats["train"].index, "prob"].to_numpy(dtype=float)
            summary = {k: v for k, v in bundle.manifest.cv.items()
                       if k.startswith(("auc", "outer"))}
        else:
            bundle, summary, oof = _train_kind(args, kind, cfg, feats["train"], pert_train,
                                               settings.settings_hash)
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
            if pert_eval is not None and kind is not ModelKind.CLINICAL and prof in pert_eval:
                rows.append(_perturbed_row(bundle, kind, prof, pert_eval[prof][0], lab,
                                           results_root))
        results[kind.value] = rows
        print(json.dumps({"kind": kind.value, "cv": {k: v for k, v in summary.items()
                                                     if k != "aucs"},
                          "cohorts": [r.__dict__ for r in rows]}), flush=True)
        if kind is ModelKind.RADIOMICS:
            main_bundle = bundle
        if not args.score_only:  # radiomics: the demo bundle; the others beside it
            bundle.save(path)
        if main_bundle is not None:  # card rewritten after every kind: partial runs still useful
            _write_card(args, main_bundle, results, feats)
    return 0


def _train_kind(args: argparse.Namespace, kind: ModelKind, cfg: ClassifyConfig,
                feats_train: pd.DataFrame, pert_train, settings_hash: str
                ) -> tuple[Bundle, dict, np.ndarray]:
    """Outer CV + final bundle of one kind (+ Platt map); the out-of-fold P(ALT) per case."""
    X, y, enc, lab_train = cohort_matrix(args.cohorts / "train", kind, feats_train)
    patients = score_rows = None
    masks = "reference"
    if pert_train is not None and kind is not ModelKind.CLINICAL:
        X, y, patients, score_rows = augmented_matrix(X, y, kind, pert_train[0],
                                                      lab_train, enc)
        masks = (f"reference + {args.mask_copies} perturbed per case "
                 f"(node.classify.maskaug, seed {args.mask_seed})")
    summary, oof = cross_validate(X, y, cfg, args.cv_repeats,
                                  min(args.cv_workflows, cfg.n_workflows), progress=False,
                                  patients=patients, score_rows=score_rows)
    bundle = train_bundle(X, y, kind, enc, cfg,
                          settings_hash=settings_hash, cohort_name="train",
                          model_id=f"lipo-demo-{kind.value}", version=default_version(),
                          progress=False, patients=patients, score_rows=score_rows,
                          training_masks=masks)
    bundle.manifest.cv.update(summary)
    if args.calibrate:
        ok = np.isfinite(oof)
        pm = PlattMap.fit(y[ok], oof[ok])
        bundle.manifest.calibration = {
            "method": "platt", "a": pm.a, "b": pm.b, "n": int(ok.sum()),
            "fitted_on": "out-of-fold P(ALT) of the training cohort"
            + (" (reference and perturbed-mask rows)" if patients is not None else "")}
        oof = pm.apply(oof)
    if score_rows is not None:
        oof = oof[score_rows]
    return bundle, summary, oof


def augmented_matrix(X: pd.DataFrame, y: np.ndarray, kind: ModelKind, pert: pd.DataFrame,
                     labels: pd.DataFrame, enc) -> tuple[pd.DataFrame, np.ndarray,
                                                         np.ndarray, np.ndarray]:
    """Reference rows followed by the perturbed-mask rows of the same patients.

    Returns (X, y, patients, score_rows): ``patients`` keeps a case's copies together in
    every split, ``score_rows`` marks the reference rows (scored in the outer CV).
    """
    parts, ys = [X], [np.asarray(y, dtype=int)]
    copies = pert.groupby(level=0).cumcount()
    for c in sorted(set(copies)):
        f = pert[copies.to_numpy() == c]
        lab = labels.loc[[p for p in labels.index if p in f.index]]
        parts.append(model_frame(kind, f, lab, enc).reindex(columns=X.columns))
        ys.append(lab["y"].to_numpy(dtype=int))
    Xa = pd.concat(parts)
    patients = np.asarray(Xa.index.astype(str))
    score_rows = np.zeros(len(Xa), bool)
    score_rows[:len(X)] = True
    return Xa, np.concatenate(ys), patients, score_rows


def _perturbed_row(bundle: Bundle, kind: ModelKind, prof: str, pert: pd.DataFrame,
                   labels: pd.DataFrame, results_root: Path) -> card.CohortResult:
    """AUC of ``bundle`` on the perturbed masks of a profile (all copies, one row each)."""
    copies = pert.groupby(level=0).cumcount().to_numpy()
    Xp = pd.concat(model_frame(kind, pert[copies == c], labels.loc[pert[copies == c].index],
                               bundle.encoder) for c in sorted(set(copies)))
    lab = labels.loc[Xp.index]
    prob, ood = bundle.predict_rows(Xp.reindex(columns=bundle.manifest.feature_names)
                                    .to_numpy(dtype=float))
    flags = ood > bundle.manifest.ood_threshold
    pd.DataFrame({"Patient": Xp.index, "label": lab["label"].to_numpy(), "prob": prob,
                  "ood_score": ood, "ood_flag": flags}).to_csv(
        results_root / prof / f"predictions_{kind.value}_perturbed.csv", index=False)
    ok = np.isfinite(prob)
    return card.evaluate(f"{prof} (perturbed masks)", lab["y"].to_numpy(dtype=int)[ok],
                         prob[ok], flags[ok])


def _write_card(args: argparse.Namespace, bundle: Bundle,
                results: dict[str, list[card.CohortResult]], feats: dict[str, pd.DataFrame]
                ) -> None:
    repro = (f"python -m node.classify.demo --cohorts {args.cohorts} --n-workflows "
             f"{args.n_workflows} --top-k {args.top_k} --cv-repeats {args.cv_repeats} "
             f"--cv-workflows {args.cv_workflows} --other-workflows {args.other_workflows} "
             f"--n-jobs {args.n_jobs}"
             + (f" --mask-copies {args.mask_copies} --mask-seed {args.mask_seed}"
                if args.mask_copies else "")
             + (f" --eval-perturbed {args.eval_perturbed}" if args.eval_perturbed else "")
             + (" --perturbed-profiles " + " ".join(args.perturbed_profiles)
                if args.perturbed_profiles else "")
             + (" --kinds " + " ".join(args.kinds)
                if set(args.kinds) != {k.value for k in ModelKind} else "")
             + (" --calibrate" if args.calibrate else ""))
    missing = [p for p in PROFILES if p not in feats]
    partial = {p: len(df) for p, df in feats.items()}
    notes = (f"Profiles missing when this card was written: {', '.join(missing)}. "
             if missing else "") + f"Cases per profile used: {partial}.\n" + (
        "Twin: tumour appearance overlapping between the labels (hazy fat-containing ALT "
        "nodules, non-fatty foci in lipomas, overlapping septa, one fat-T1 range; "
        "node/synthetic/tumour.py, issue 16), tuned on the prospective profile only.\n"
        "'(perturbed masks)' rows: truth masks perturbed like automatic masks "
        "(node/classify/maskaug.py, seed --mask-seed + 1000, not the training copies): a "
        "stand-in for the workflow's masks; docs/evaluation/workflow has real ones.")
    card.write(args.out / "MODEL_CARD.md", card.render(bundle, results, repro, notes))


if __name__ == "__main__":
    sys.exit(main())
