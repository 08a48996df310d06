"""Perturbed training masks: the errors an automatic segmentation makes, drawn on truth masks.

A classifier trained on reference masks only meets, in the node, masks from nnU-Net or from
the interactive model. Issue 16 asks for a classifier robust to those masks. Real automatic
masks of the training cohort (cross-validated) are the best training data but cost a full
segmentation run per case; these perturbations are a cheap, named proxy shaped like the errors
seen in the workflow evaluation (docs/evaluation/NOTES.md):

- ``dilate`` / ``erode``: the boundary 1-3 voxels out or 1-2 voxels in (in-plane, the slices
  are thick), the commonest nnU-Net disagreement with a reader;
- ``fat_leak``: the mask grows into adjacent fat (subcutaneous or intermuscular fat looks like
  tumour fat on T1) by up to 3-8 voxels, which doubled small tumours' volume on external_b;
- ``drop_lobe``: a cap of the tumour beyond a random plane (10-30 % of it) is missed;
- ``drop_end_slices``: the first or last slice of the tumour is missed (partial volume on thick
  slices);
- ``drop_nodules``: dark (non-fatty) voxels at the edge of the mask are left out, as a model
  trained on mostly fatty tumours does with ALT nodules at the margin.

Each perturbed mask draws one to three of these from a per-case random stream, so the same
(seed, patient, copy) always gives the same mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

KINDS = ("dilate", "erode", "fat_leak", "drop_lobe", "drop_end_slices", "drop_nodules")
# how often each kind is drawn (relative); growth errors are commoner than misses in the runs
WEIGHTS = {"dilate": 3.0, "erode": 2.0, "fat_leak": 2.5, "drop_lobe": 1.5,
           "drop_end_slices": 1.0, "drop_nodules": 1.0}


@dataclass(frozen=True)
class PerturbedMask:
    mask: np.ndarray          # uint8, same grid as the input (z, y, x)
    steps: tuple[str, ...]    # what was done, e.g. ("dilate:2", "drop_lobe:0.18")


def _inplane(n: int) -> np.ndarray:
    """A disc of radius ``n`` voxels in-plane, one slice thick (z, y, x)."""
    r = np.arange(-n, n + 1)
    yy, xx = np.meshgrid(r, r, indexing="ij")
    return (yy**2 + xx**2 <= n * n + 0.5)[None]


def dilate(mask: np.ndarray, n: int) -> np.ndarray:
    return ndimage.binary_dilation(mask.astype(bool), _inplane(n)).astype(np.uint8)


def erode(mask: np.ndarray, n: int) -> np.ndarray:
    er = ndimage.binary_erosion(mask.astype(bool), _inplane(n))
    return (er if er.sum() >= 0.2 * mask.sum() else mask.astype(bool)).astype(np.uint8)


def fat_leak(image: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Grow ``mask`` up to ``n`` in-plane steps into voxels as bright as the tumour's fat."""
    m = mask.astype(bool)
    inside = image[m]
    if inside.size == 0:
        return mask.astype(np.uint8)
    lo = float(np.percentile(inside, 50)) * 0.8   # fat is the bright bulk of the tumour on T1
    fatty = image >= lo
    grown = m.copy()
    st = _inplane(1)
    for _ in range(n):
        grown |= ndimage.binary_dilation(grown, st) & fatty
    return grown.astype(np.uint8)


def drop_lobe(mask: np.ndarray, share: float, rng: np.random.Generator,
              spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """Remove the cap of the mask beyond a random plane that holds about ``share`` of it."""
    m = mask.astype(bool)
    pts = np.argwhere(m).astype(np.float64) * np.asarray(spacing_zyx)
    if len(pts) < 10:
        return mask.astype(np.uint8)
    n = rng.normal(size=3)
    n /= np.linalg.norm(n)
    proj = pts @ n
    cut = np.quantile(proj, 1.0 - share)
    out = m.copy()
    idx = np.argwhere(m)[proj > cut]
    out[tuple(idx.T)] = False
    return out.astype(np.uint8)


def drop_end_slices(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Remove the first or last slice of the tumour (if it spans more than three)."""
    zs = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    out = mask.astype(np.uint8).copy()
    if len(zs) > 3:
        out[zs[0] if rng.random() < 0.5 else zs[-1]] = 0
    return out


def drop_nodules(image: np.ndarray, mask: np.ndarray, depth: int) -> np.ndarray:
    """Leave out dark (non-fatty) voxels within ``depth`` in-plane voxels of the mask edge."""
    m = mask.astype(bool)
    inside = image[m]
    if inside.size == 0:
        return mask.astype(np.uint8)
    dark = image < 0.6 * float(np.percentile(inside, 90))
    rim = m & ~ndimage.binary_erosion(m, _inplane(depth))
    out = m & ~(rim & dark)
    return (out if out.sum() >= 0.5 * m.sum() else m).astype(np.uint8)


def perturb(image: np.ndarray, mask: np.ndarray, spacing_zyx: tuple[float, float, float],
            rng: np.random.Generator) -> PerturbedMask:
    """One perturbed copy of ``mask``: one to three error kinds, weighted by :data:`WEIGHTS`."""
    p = np.array([WEIGHTS[k] for k in KINDS])
    k = int(rng.integers(1, 4))
    kinds = [KINDS[i] for i in rng.choice(len(KINDS), size=k, replace=False, p=p / p.sum())]
    if "dilate" in kinds and "erode" in kinds:
        kinds.remove("erode")
    out = mask.astype(np.uint8)
    steps = []
    for kind in kinds:  # KINDS order is not needed: each step acts on the previous result
        if kind == "dilate":
            n = int(rng.integers(1, 4))
            out, s = dilate(out, n), f"dilate:{n}"
        elif kind == "erode":
            n = int(rng.integers(1, 3))
            out, s = erode(out, n), f"erode:{n}"
        elif kind == "fat_leak":
            n = int(rng.integers(3, 9))
            out, s = fat_leak(image, out, n), f"fat_leak:{n}"
        elif kind == "drop_lobe":
            share = float(rng.uniform(0.1, 0.3))
            out, s = drop_lobe(out, share, rng, spacing_zyx), f"drop_lobe:{share:.2f}"
        elif kind == "drop_end_slices":
            out, s = drop_end_slices(out, rng), "drop_end_slices"
        else:
            d = int(rng.integers(2, 5))
            out, s = drop_nodules(image, out, d), f"drop_nodules:{d}"
        steps.append(s)
    if out.sum() == 0:  # never hand the extractor an empty mask
        out, steps = mask.astype(np.uint8), [*steps, "reverted:empty"]
    return PerturbedMask(out, tuple(steps))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    den = int(a.sum()) + int(b.sum())
    return 1.0 if den == 0 else 2.0 * int((a & b).sum()) / den


def _case_copies(case_dir: str, settings_json: str, copies: int, seed: int,
                 cache_dir: str | None) -> list[dict] | str:
    """Features of ``copies`` perturbed masks of one case (cached as one JSON per case)."""
    import hashlib
    import json
    from pathlib import Path

    import SimpleITK as sitk  # noqa: N813 (the library's own convention)

    from node.radiomics.features import FeatureExtractionError, extract
    from node.radiomics.settings import ExtractionSettings

    case = Path(case_dir)
    settings = ExtractionSettings.model_validate_json(settings_json)
    cache = None
    if cache_dir is not None:
        st = [(case / n).stat() for n in ("image.nii.gz", "segmentation.nii.gz")]
        key = hashlib.sha256(f"{settings.settings_hash}|{copies}|{seed}|"
                             f"{[(s.st_size, s.st_mtime_ns) for s in st]}".encode()
                             ).hexdigest()[:16]
        cache = Path(cache_dir) / settings.settings_hash / f"{case.name}.perturbed.{key}.json"
        if cache.is_file():
            return json.loads(cache.read_text())
    try:
        image = sitk.ReadImage(str(case / "image.nii.gz"))
        truth_img = sitk.ReadImage(str(case / "segmentation.nii.gz"))
        arr = sitk.GetArrayFromImage(image).astype(np.float32)
        truth = (sitk.GetArrayFromImage(truth_img) > 0).astype(np.uint8)
        spacing = tuple(float(v) for v in reversed(image.GetSpacing()))
        rows = []
        for c in range(copies):
            rng = np.random.default_rng([seed, c, int(hashlib.sha256(case.name.encode())
                                                      .hexdigest()[:8], 16)])
            pm = perturb(arr, truth, spacing, rng)
            m = sitk.GetImageFromArray(pm.mask)
            m.CopyInformation(image)
            fv = extract(image, m, settings)
            rows.append({"copy": c, "dice": dice(pm.mask, truth), "steps": " ".join(pm.steps),
                         "names": list(fv.names), "values": [float(v) for v in fv.values]})
    except (FeatureExtractionError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows))
        tmp.replace(cache)
    return rows


def perturbed_cohort_features(cohort_dir, settings, *, copies: int, seed: int = 0,
                              n_jobs: int = 1, cache_dir=None, patients: list[str] | None = None):
    """Features of ``copies`` perturbed truth masks per case of a WORC-layout cohort.

    Returns ``(features, info)``: ``features`` has one row per (case, copy), indexed by
    Patient (repeated); ``info`` has Patient, copy, dice (with the truth mask) and steps. A
    case that cannot be extracted is left out and named in ``info.attrs["failures"]``.
    """
    from pathlib import Path

    import pandas as pd
    from joblib import Parallel, delayed

    from node.radiomics.cohort import cohort_cases

    cohort_dir = Path(cohort_dir)
    cases = patients if patients is not None else cohort_cases(cohort_dir)
    sj = settings.model_dump_json()
    res = Parallel(n_jobs=n_jobs)(delayed(_case_copies)(
        str(cohort_dir / c), sj, copies, seed, None if cache_dir is None else str(cache_dir))
        for c in cases)
    feats, info, failures = [], [], {}
    names = None
    for case, rows in zip(cases, res, strict=True):
        if isinstance(rows, str):
            failures[case] = rows
            continue
        for r in rows:
            names = names or r["names"]
            feats.append(pd.Series(r["values"], index=r["names"], name=case))
            info.append({"Patient": case, "copy": r["copy"], "dice": r["dice"],
                         "steps": r["steps"]})
    fdf = pd.DataFrame(feats)
    fdf.index.name = "Patient"
    idf = pd.DataFrame(info)
    idf.attrs["failures"] = failures
    return fdf, idf
