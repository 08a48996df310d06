"""Sub-commands: ``train-classifier``, ``classify`` (one case), ``classify-cohort`` (CSV)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from node.classify.data import ModelKind


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train-classifier", help="WORC-style AutoML ensemble on a cohort")
    t.add_argument("cohort", type=Path, help="WORC layout: <Patient>/image+segmentation, "
                   "labels.csv")
    t.add_argument("--out", type=Path, required=True, help="bundle folder to write")
    t.add_argument("--model", choices=[k.value for k in ModelKind], default="radiomics")
    t.add_argument("--features", type=Path, default=None,
                   help="features CSV (default: <cohort>/features.csv if its settings match, "
                   "else extract)")
    t.add_argument("--params", type=Path, default=None, help="radiomics parameter YAML")
    t.add_argument("--n-workflows", type=int, default=None)
    t.add_argument("--top-k", type=int, default=None)
    t.add_argument("--n-jobs", type=int, default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--cv-repeats", type=int, default=None)
    t.add_argument("--cv-workflows", type=int, default=None)
    t.add_argument("--model-id", default=None)
    t.set_defaults(func=_train)
    c = sub.add_parser("classify", help="P(ALT) of one case with a model bundle")
    c.add_argument("image", type=Path, nargs="?", help="image (with MASK) or omit with "
                   "--features")
    c.add_argument("mask", type=Path, nargs="?")
    c.add_argument("--features", type=Path, default=None, help="FeatureVector JSON")
    c.add_argument("--clinical", default=None, help='JSON, e.g. {"age": 61, "sex": "F", '
                   '"location": "thigh", "depth": "deep"}')
    c.add_argument("--bundle", type=Path, default=None, help="default: config / demo bundle")
    c.add_argument("--params", type=Path, default=None)
    c.set_defaults(func=_classify)
    p = sub.add_parser("classify-cohort", help="predictions CSV (Patient,label,prob) of a cohort")
    p.add_argument("cohort", type=Path)
    p.add_argument("--bundle", type=Path, default=None)
    p.add_argument("--features", type=Path, default=None)
    p.add_argument("--params", type=Path, default=None)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_classify_cohort)


def _features_frame(cohort: Path, csv: Path | None, params: Path | None, cfg):
    from node.radiomics.cohort import extract_cohort, read_features_csv
    from node.radiomics.settings import load_settings

    settings = load_settings(params or cfg.radiomics.params_file)
    path = csv or cohort / "features.csv"
    if path.is_file():
        df, sh = read_features_csv(path)
        if sh == settings.settings_hash:
            return df, settings.settings_hash
        if csv is not None:
            from node.errors import ModelBundleMismatch
            raise ModelBundleMismatch(f"{csv}: settings {sh}, expected {settings.settings_hash}")
    df = extract_cohort(cohort, settings, n_jobs=cfg.radiomics.n_jobs,
                        cache_dir=cfg.radiomics.cache_dir or cfg.data_dir / "radiomics_cache")
    return df, settings.settings_hash


def _train(args: argparse.Namespace) -> int:
    from node.classify.train import cohort_matrix, default_version, train_bundle
    from node.config import load_config

    cfg = load_config(args.config)
    upd = {k: v for k, v in {"n_workflows": args.n_workflows, "top_k": args.top_k,
                             "n_jobs": args.n_jobs, "seed": args.seed,
                             "cv_repeats": args.cv_repeats,
                             "cv_workflows": args.cv_workflows}.items() if v is not None}
    ccfg = cfg.classify.model_copy(update=upd)
    kind = ModelKind(args.model)
    feats, sh = (None, None) if kind is ModelKind.CLINICAL else _features_frame(
        args.cohort, args.features, args.params, cfg)
    X, y, enc, _ = cohort_matrix(args.cohort, kind, feats)
    bundle = train_bundle(X, y, kind, enc, ccfg, settings_hash=sh,
                          cohort_name=args.cohort.name,
                          model_id=args.model_id or f"lipo-{kind.value}",
                          version=default_version())
    bundle.save(args.out)
    print(json.dumps({"bundle": str(args.out), **bundle.manifest.cv}, default=str))
    return 0


def _bundle_path(args: argparse.Namespace, cfg) -> Path:
    from node.classify.bundle import DEMO_BUNDLE

    return args.bundle or cfg.classify.bundle or DEMO_BUNDLE


def _classify(args: argparse.Namespace) -> int:
    from node.classify.bundle import load_bundle
    from node.config import load_config
    from node.radiomics.features import FeatureVector, extract_files
    from node.radiomics.settings import load_settings

    cfg = load_config(args.config)
    bundle = load_bundle(_bundle_path(args, cfg))
    if args.features is not None:
        fv = FeatureVector.from_file(args.features)
    elif args.image is not None and args.mask is not None:
        fv = extract_files(args.image, args.mask,
                           load_settings(args.params or cfg.radiomics.params_file))
    else:
        fv = None
    clinical = json.loads(args.clinical) if args.clinical else None
    pred = bundle.predict(fv, clinical)
    sys.stdout.write(json.dumps({**pred.__dict__, "label": pred.label.value}) + "\n")
    return 0


def _classify_cohort(args: argparse.Namespace) -> int:
    import pandas as pd

    from node.classify.bundle import load_bundle
    from node.classify.train import cohort_matrix
    from node.config import load_config
    from node.errors import ModelBundleMismatch

    cfg = load_config(args.config)
    bundle = load_bundle(_bundle_path(args, cfg))
    kind = bundle.manifest.model_kind
    feats = None
    if kind is not ModelKind.CLINICAL:
        feats, sh = _features_frame(args.cohort, args.features, args.params, cfg)
        if sh != bundle.manifest.settings_hash:
            raise ModelBundleMismatch(f"cohort features {sh} vs bundle "
                                      f"{bundle.manifest.settings_hash}")
    X, _, _, labels = cohort_matrix(args.cohort, kind, feats, bundle.encoder)
    X = X.reindex(columns=bundle.manifest.feature_names)
    prob, ood = bundle.predict_rows(X.to_numpy(dtype=float))
    out = pd.DataFrame({"Patient": labels.index, "label": labels["label"].to_numpy(),
                        "prob": prob, "ood_score": ood})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    print(f"{len(out)} predictions -> {args.out}")
    return 0
