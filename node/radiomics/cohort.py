"""Features of a whole cohort in WORC layout, in parallel, cached per case and settings hash.

Layout (SYNTHETIC.md / WORC): ``<cohort>/<Patient>/image.nii.gz``,
``<cohort>/<Patient>/segmentation.nii.gz`` and ``<cohort>/labels.csv``. The cache key is the
settings hash plus the size and mtime of both files, so a changed image or parameter file is
re-extracted and nothing else is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from node.radiomics.features import FeatureExtractionError, FeatureVector, extract_files
from node.radiomics.settings import ExtractionSettings

IMAGE_NAME = "image.nii.gz"
MASK_NAME = "segmentation.nii.gz"


def cohort_cases(cohort_dir: Path) -> list[str]:
    """Patient folder names holding both an image and a segmentation, sorted."""
    cohort_dir = Path(cohort_dir)
    if not cohort_dir.is_dir():
        raise FeatureExtractionError(f"cohort folder {cohort_dir} does not exist")
    return sorted(p.name for p in cohort_dir.iterdir()
                  if (p / IMAGE_NAME).is_file() and (p / MASK_NAME).is_file())


def _cache_key(case_dir: Path, settings_hash: str) -> str:
    parts = [settings_hash]
    for name in (IMAGE_NAME, MASK_NAME):
        st = (case_dir / name).stat()
        parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def case_features(case_dir: Path, settings: ExtractionSettings,
                  cache_dir: Path | None) -> FeatureVector:
    """Features of one case folder, read from / written to the cache when one is given."""
    case_dir = Path(case_dir)
    cache_file = None
    if cache_dir is not None:
        key = _cache_key(case_dir, settings.settings_hash)
        cache_file = Path(cache_dir) / settings.settings_hash / f"{case_dir.name}.{key}.json"
        if cache_file.is_file():
            return FeatureVector.from_file(cache_file)
    fv = extract_files(case_dir / IMAGE_NAME, case_dir / MASK_NAME, settings)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        fv.to_file(tmp)
        tmp.replace(cache_file)
    return fv


def _one(case_dir: Path, settings_json: str, cache_dir: Path | None) -> FeatureVector | str:
    """The case's features, or the reason it has none (kept as a NaN row, not dropped)."""
    try:
        return case_features(case_dir, ExtractionSettings.model_validate_json(settings_json),
                             cache_dir)
    except FeatureExtractionError as exc:
        return str(exc)


def extract_cohort(cohort_dir: Path, settings: ExtractionSettings, *, n_jobs: int = 1,
                   cache_dir: Path | None = None, progress: bool = True) -> pd.DataFrame:
    """One row per patient (index ``Patient``), one column per feature.

    A case whose extraction fails (empty mask, unreadable file) stays in the frame as a row
    of NaN — the classifier's imputation handles it — and its reason is listed in
    ``df.attrs["failures"]``; only a cohort with no usable case raises.
    """
    cohort_dir = Path(cohort_dir)
    cases = cohort_cases(cohort_dir)
    if not cases:
        raise FeatureExtractionError(f"cohort {cohort_dir}: no <Patient>/{IMAGE_NAME} + "
                                     f"{MASK_NAME} folders")
    sj = settings.model_dump_json()
    jobs = (delayed(_one)(cohort_dir / c, sj, cache_dir) for c in cases)
    it = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    vecs = list(tqdm(it, total=len(cases), desc=f"features {cohort_dir.name}",
                     disable=not progress))
    good = [fv for fv in vecs if isinstance(fv, FeatureVector)]
    failures = {c: fv for c, fv in zip(cases, vecs, strict=True) if isinstance(fv, str)}
    if not good:
        raise FeatureExtractionError(f"cohort {cohort_dir}: no case could be extracted, "
                                     f"e.g. {next(iter(failures.values()))}")
    names = good[0].names
    rows = []
    for case, fv in zip(cases, vecs, strict=True):
        if isinstance(fv, str):
            rows.append([float("nan")] * len(names))
        elif fv.names != names:
            raise FeatureExtractionError(f"case {case}: feature names differ from the cohort's")
        else:
            rows.append(list(fv.values))
    df = pd.DataFrame(rows, columns=list(names), index=pd.Index(cases, name="Patient"))
    df.attrs["failures"] = failures
    return df


def write_features_csv(df: pd.DataFrame, out: Path, settings_hash: str) -> None:
    """CSV (Patient + features) plus ``<out>.json`` naming the settings hash."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out)
    Path(str(out) + ".json").write_text(json.dumps(
        {"settings_hash": settings_hash, "n_cases": len(df), "n_features": df.shape[1],
         "failures": df.attrs.get("failures", {})}, indent=1))


def read_features_csv(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The frame written by :func:`write_features_csv` and its settings hash (if recorded)."""
    path = Path(path)
    df = pd.read_csv(path, index_col="Patient")
    df.index = df.index.astype(str)
    meta = Path(str(path) + ".json")
    sh = json.loads(meta.read_text())["settings_hash"] if meta.is_file() else None
    return df, sh
