"""Sub-commands of this stage: ``features`` (one case) and ``features-cohort`` (CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="radiomics features of one image + mask -> JSON")
    p.add_argument("image", type=Path)
    p.add_argument("mask", type=Path)
    p.add_argument("--out", type=Path, default=None, help="JSON file (default: stdout)")
    p.add_argument("--params", type=Path, default=None, help="parameter YAML (default: config)")
    p.set_defaults(func=_features)
    c = sub.add_parser("features-cohort",
                       help="features of a WORC-layout cohort -> CSV (parallel, cached)")
    c.add_argument("cohort", type=Path)
    c.add_argument("--out", type=Path, default=None,
                   help="CSV (default: <cohort>/features.csv)")
    c.add_argument("--params", type=Path, default=None)
    c.add_argument("--n-jobs", type=int, default=None, help="workers (default: config)")
    c.add_argument("--no-cache", action="store_true")
    c.set_defaults(func=_features_cohort)


def _settings(args: argparse.Namespace):
    from node.config import load_config
    from node.radiomics.settings import load_settings

    cfg = load_config(args.config)
    return cfg, load_settings(args.params or cfg.radiomics.params_file)


def _features(args: argparse.Namespace) -> int:
    from node.radiomics.features import extract_files

    _, settings = _settings(args)
    fv = extract_files(args.image, args.mask, settings)
    if args.out is None:
        sys.stdout.write(fv.to_json() + "\n")
    else:
        fv.to_file(args.out)
        print(f"{len(fv.names)} features (settings {fv.settings_hash}) -> {args.out}")
    return 0


def _features_cohort(args: argparse.Namespace) -> int:
    from node.radiomics.cohort import extract_cohort, write_features_csv

    cfg, settings = _settings(args)
    cache = None if args.no_cache else (cfg.radiomics.cache_dir
                                        or cfg.data_dir / "radiomics_cache")
    n_jobs = args.n_jobs if args.n_jobs is not None else cfg.radiomics.n_jobs
    df = extract_cohort(args.cohort, settings, n_jobs=n_jobs, cache_dir=cache)
    out = args.out or args.cohort / "features.csv"
    write_features_csv(df, out, settings.settings_hash)
    print(f"{len(df)} cases x {df.shape[1]} features (settings {settings.settings_hash}) -> {out}")
    return 0
