"""Tune the image-based QC thresholds on the *twin* (never on the hold-out).

Good masks: the twin's truth masks and the model's masks with Dice ≥ ``good_dice``. Bad
masks: the model's masks with Dice < ``bad_dice`` and perturbations of the truth that mimic the
failures seen in issue 14 — a leak into the fat connected to the tumour (``grow_into_fat``),
a mask stopping half-way (``cut_half``) and a shrunken mask (``erode``). Each threshold is set
at a quantile of the *good* masks (so at most ~``1 - quantile`` of good masks fail any one
check), and the report says how many bad masks each check and all checks together catch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)
from scipy import ndimage

from node.qc.anatomy import _otsu, body_mask
from node.qc.checks import run_qc
from node.qc.config import QcConfig
from node.segment.geometry import Mask, geometry_of
from node.segment.nnunet import dice

#: measurement → (QcConfig field, direction: +1 = fail when above, -1 = fail when below)
RULES: dict[str, tuple[str, int]] = {
    "fat_continuity": ("max_fat_continuity", +1),
    "skin_contact": ("max_skin_contact", +1),
    "thin_fraction": ("max_thin_fraction", +1),
    "solidity": ("min_solidity", -1),
    "fat_share": ("min_fat_share", -1),
    "interactive_dice": ("min_interactive_dice", -1),
}


def grow_into_fat(image: np.ndarray, truth: np.ndarray, steps: int) -> np.ndarray:
    """Truth plus the fat reachable from it in ``steps`` in-plane dilations (a leak)."""
    body = body_mask(image)
    fat = body & (image > _otsu(image[body]))
    cross = np.zeros((1, 3, 3), bool)
    cross[0, 1, :] = cross[0, :, 1] = True
    grown = truth.copy()
    for _ in range(steps):
        grown = grown | (ndimage.binary_dilation(grown, structure=cross) & fat)
    return grown


def cut_half(truth: np.ndarray, axis: int) -> np.ndarray:
    idx = np.argwhere(truth)
    mid = int(np.median(idx[:, axis]))
    out = truth.copy()
    sl = [slice(None)] * 3
    sl[axis] = slice(mid, None)
    out[tuple(sl)] = False
    return out


def erode(truth: np.ndarray, iterations: int) -> np.ndarray:
    return ndimage.binary_erosion(truth, structure=np.ones((1, 3, 3), bool), iterations=iterations)


PERTURBATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "grow_fat_8": lambda img, t: grow_into_fat(img, t, 8),
    "grow_fat_20": lambda img, t: grow_into_fat(img, t, 20),
    "cut_half_y": lambda img, t: cut_half(t, 1),
    "erode_3": lambda img, t: erode(t, 3),
}


@dataclass(frozen=True)
class Sample:
    case: str
    kind: str          # "truth", "model", or a perturbation name
    dice: float
    measurements: dict[str, float | None]


def _good(samples: list[Sample], good_dice: float) -> list[Sample]:
    """Masks QC should pass: the truth and the model's masks with Dice ≥ ``good_dice`` (a
    perturbation is never 'good': an eroded mask with Dice 0.85 is still a wrong outline)."""
    return [s for s in samples if s.kind in ("truth", "model") and s.dice >= good_dice]


def choose_thresholds(samples: list[Sample], good_dice: float = 0.8,
                      quantile: float = 0.97) -> dict[str, float]:
    """Per rule, the ``quantile`` of the good masks' values (lower tail for 'min' rules)."""
    good = _good(samples, good_dice)
    out = {}
    for name, (field, sign) in RULES.items():
        vals = np.array([s.measurements[name] for s in good if s.measurements.get(name) is not None])
        if len(vals) == 0:
            continue
        q = np.quantile(vals, quantile if sign > 0 else 1 - quantile)
        out[field] = round(float(q), 3)
    return out


def fails(m: dict[str, float | None], thresholds: dict[str, float]) -> list[str]:
    bad = []
    for name, (field, sign) in RULES.items():
        v = m.get(name)
        if v is None or field not in thresholds:
            continue
        if (sign > 0 and v > thresholds[field]) or (sign < 0 and v < thresholds[field]):
            bad.append(name)
    return bad


def tuning_report(samples: list[Sample], thresholds: dict[str, float], good_dice: float = 0.8,
                  bad_dice: float = 0.7) -> dict[str, object]:
    good = _good(samples, good_dice)
    bad = [s for s in samples if s.dice < bad_dice]
    return {
        "thresholds": thresholds,
        "n_good": len(good), "n_bad": len(bad),
        "good_flagged": sum(bool(fails(s.measurements, thresholds)) for s in good),
        "bad_caught": sum(bool(fails(s.measurements, thresholds)) for s in bad),
        "bad_missed": [{"case": s.case, "kind": s.kind, "dice": s.dice} for s in bad
                       if not fails(s.measurements, thresholds)],
        "per_rule_bad_caught": {n: sum(n in fails(s.measurements, thresholds) for s in bad)
                                for n in RULES},
        "per_rule_good_flagged": {n: sum(n in fails(s.measurements, thresholds) for s in good)
                                  for n in RULES},
    }


def sample_case(case_dir: Path, array: np.ndarray, truth: np.ndarray, image: object,
                predicted: np.ndarray | None, measure: Callable[[np.ndarray], dict]) -> list[Sample]:
    """Truth, model mask and perturbations of one twin case, each measured."""
    out = [Sample(case_dir.name, "truth", 1.0, measure(truth))]
    if predicted is not None:
        out.append(Sample(case_dir.name, "model", round(dice(predicted, truth), 4), measure(predicted)))
    for name, fn in PERTURBATIONS.items():
        m = fn(array, truth)
        if m.any():
            out.append(Sample(case_dir.name, name, round(dice(m, truth), 4), measure(m)))
    return out


def save_samples(samples: list[Sample], path: Path) -> None:
    path.write_text(json.dumps([s.__dict__ for s in samples], indent=1) + "\n", encoding="utf-8")


def collect_samples(case_dirs: list[Path], segmenter: object, qc_cfg: object,
                    progress: Callable[[Sample], None] | None = None,
                    cache: Path | None = None) -> list[Sample]:
    """Truth, model and perturbed masks of every twin case, each with its QC measurements;
    ``cache``: the model's probabilities stored by ``eval-seg --cache`` (no network needed)."""
    from node.segment.evaluate import predict_cached

    samples: list[Sample] = []
    for case in case_dirs:
        array, truth, image = load_case(case)
        pred = predict_cached(segmenter, image, case.name, cache).array.astype(bool)  # type: ignore[arg-type]
        for s in sample_case(case, array, truth, image, pred,
                             lambda m, a=array, i=image: measure_mask(a, m, i, qc_cfg)):  # type: ignore[misc]
            samples.append(s)
            if progress:
                progress(s)
    return samples


def load_case(case_dir: Path) -> tuple[np.ndarray, np.ndarray, sitk.Image]:
    image = sitk.ReadImage(str(case_dir / "image.nii.gz"))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(case_dir / "segmentation.nii.gz"))) > 0
    return sitk.GetArrayFromImage(image).astype(np.float32), truth, image


def measure_mask(array: np.ndarray, mask_array: np.ndarray, image: sitk.Image,
                 qc_cfg: QcConfig) -> dict[str, float | None]:
    """QC measurements of any mask on a case (tuning: perturbed truth masks)."""
    from node.qc.interactive_check import reseg_from_extremes

    geometry = geometry_of(image)
    sx, sy, sz = geometry.spacing
    inter = reseg_from_extremes(array, mask_array, (sz, sy, sx)) if qc_cfg.interactive_check else None
    m = Mask(array=mask_array.astype(np.uint8), geometry=geometry, model_id="perturbed")
    qc = run_qc(m, None, False, qc_cfg, image=array, interactive=inter)
    return dict(qc.measurements)


def case_dirs(root: Path) -> list[Path]:
    """Complete WORC-layout cases under ``root`` (image, segmentation and a truth/meta file)."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and (p / "image.nii.gz").is_file()
                  and (p / "segmentation.nii.gz").is_file()
                  and ((p / "truth.json").is_file() or (p / "meta.json").is_file()))


def load_samples(path: Path) -> list[Sample]:
    return [Sample(**d) for d in json.loads(Path(path).read_text(encoding="utf-8"))]
