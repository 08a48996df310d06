"""Multi-sequence features: the T1 mask carried onto T1-FS, T1-GD and T2/STIR, features per sequence.

The paper's multi-sequence models (Spaanderman et al. 2024, Supplementary Table S4) used every
sequence a study had, registered to the T1 with elastix, and imputed the sequences a protocol
lacked. Here one case gives one :class:`FeatureVector`:

- the T1 features under their usual names (a T1-only bundle reads the same columns), then
- ``<slot>:<feature>`` for every slot of :data:`SLOTS`, NaN when the study has no such
  sequence or it does not cover the tumour. The classifier's imputation step (mean, median or
  kNN, drawn per workflow as WORC does) fills them in.

The vector's settings hash combines the radiomics settings and the registration settings,
so a multi-sequence bundle refuses features made with another registration.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.radiomics.features import FeatureExtractionError, FeatureVector, extract
from node.radiomics.register import (
    RegistrationError,
    RegistrationSettings,
    header_transfer,
    transfer_mask,
)
from node.radiomics.settings import ExtractionSettings

SLOTS = ("t1fs", "t1gd", "t2")
SLOT_NAMES = {"t1fs": "T1-FS", "t1gd": "T1-GD", "t2": "T2/T2-FS/STIR"}
SEQUENCES_DIR = "sequences"   # WORC layout extension: <Patient>/sequences/<slot>.nii.gz


def multi_hash(settings_hash: str, registration_hash: str) -> str:
    """The settings hash of a multi-sequence vector (radiomics + registration settings)."""
    return "ms-" + hashlib.sha256(f"{settings_hash}|{registration_hash}".encode()).hexdigest()[:13]


def is_multi_sequence(names: tuple[str, ...] | list[str]) -> bool:
    return any(":" in n for n in names)


@dataclass(frozen=True)
class SequenceOutcome:
    """What happened to one slot of one case (reported, and scored against truth in tests)."""

    slot: str
    used: bool
    registration_s: float = 0.0       # CPU seconds
    features_s: float = 0.0           # CPU seconds
    reason: str = ""                  # why not used
    dice: float | None = None         # transferred mask vs truth (synthetic cohorts only)
    dice_header_only: float | None = None


@dataclass(frozen=True)
class MultiSequenceFeatures:
    vector: FeatureVector
    outcomes: tuple[SequenceOutcome, ...]

    @property
    def used(self) -> tuple[str, ...]:
        return tuple(o.slot for o in self.outcomes if o.used)


def combine(t1: FeatureVector, per_slot: Mapping[str, FeatureVector | None],
            registration_hash: str) -> FeatureVector:
    """One vector: T1 names, then ``slot:name`` per slot (NaN for a missing sequence)."""
    names, values = list(t1.names), list(t1.values)
    for slot in SLOTS:
        fv = per_slot.get(slot)
        d = fv.as_dict() if fv is not None else {}
        names += [f"{slot}:{n}" for n in t1.names]
        values += [d.get(n, math.nan) for n in t1.names]
    return FeatureVector(tuple(names), tuple(values),
                         multi_hash(t1.settings_hash, registration_hash))


def _dice(a: sitk.Image, b: sitk.Image) -> float:
    x, y = sitk.GetArrayViewFromImage(a) > 0, sitk.GetArrayViewFromImage(b) > 0
    den = int(x.sum()) + int(y.sum())
    return 1.0 if den == 0 else round(2.0 * int((x & y).sum()) / den, 4)


def extract_multi(t1: sitk.Image, t1_mask: sitk.Image, sequences: Mapping[str, sitk.Image],
                  settings: ExtractionSettings, registration: RegistrationSettings, *,
                  t1_features: FeatureVector | None = None,
                  truths: Mapping[str, sitk.Image] | None = None) -> MultiSequenceFeatures:
    """Features of the T1 and of every given sequence (unknown slots are refused).

    A sequence whose registration or extraction fails is left out (its features imputed) and
    the reason kept in its :class:`SequenceOutcome`; only a T1 failure raises.
    """
    unknown = sorted(set(sequences) - set(SLOTS))
    if unknown:
        raise ValueError(f"unknown sequence slot(s) {unknown}; expected {SLOTS}")
    t1f = t1_features or extract(t1, t1_mask, settings)
    per_slot: dict[str, FeatureVector | None] = {}
    outcomes = []
    for slot in SLOTS:
        image = sequences.get(slot)
        if image is None:
            outcomes.append(SequenceOutcome(slot, False, reason="not in the study"))
            continue
        try:
            tr = transfer_mask(t1, t1_mask, image, registration)
            started = time.process_time()
            per_slot[slot] = extract(image, tr.mask, settings)
            feat_s = time.process_time() - started
        except (RegistrationError, FeatureExtractionError) as exc:
            outcomes.append(SequenceOutcome(slot, False, reason=str(exc)))
            continue
        truth = (truths or {}).get(slot)
        outcomes.append(SequenceOutcome(
            slot, True, round(tr.seconds, 2), round(feat_s, 2),
            dice=None if truth is None else _dice(tr.mask, truth),
            dice_header_only=None if truth is None else _dice(header_transfer(t1_mask, image),
                                                              truth)))
    return MultiSequenceFeatures(combine(t1f, per_slot, registration.settings_hash),
                                 tuple(outcomes))


# --- WORC-layout cohorts ------------------------------------------------------------------

def case_sequences(case_dir: Path) -> tuple[dict[str, sitk.Image], dict[str, sitk.Image]]:
    """Images (and synthetic truth masks, where present) of ``<case>/sequences/``."""
    d = Path(case_dir) / SEQUENCES_DIR
    images, truths = {}, {}
    for slot in SLOTS:
        if (d / f"{slot}.nii.gz").is_file():
            images[slot] = sitk.ReadImage(str(d / f"{slot}.nii.gz"), sitk.sitkFloat32)
            if (d / f"{slot}_truth.nii.gz").is_file():
                truths[slot] = sitk.ReadImage(str(d / f"{slot}_truth.nii.gz"))
    return images, truths


def _cache_key(case_dir: Path, h: str, mask_name: str) -> str:
    parts = [h]
    for p in sorted([case_dir / "image.nii.gz", case_dir / mask_name,
                     *(case_dir / SEQUENCES_DIR).glob("*.nii.gz")]):
        if p.is_file():
            st = p.stat()
            parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def case_multi(case_dir: Path, settings: ExtractionSettings, registration: RegistrationSettings,
               cache_dir: Path | None = None, mask_name: str = "segmentation.nii.gz"
               ) -> MultiSequenceFeatures:
    """:func:`extract_multi` of one cohort case folder, cached per settings and file state."""
    case_dir = Path(case_dir)
    h = multi_hash(settings.settings_hash, registration.settings_hash)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / h / f"{case_dir.name}.{_cache_key(case_dir, h, mask_name)}.json"
        if cache.is_file():
            raw = json.loads(cache.read_text())
            return MultiSequenceFeatures(FeatureVector.from_json(json.dumps(raw["vector"])),
                                         tuple(SequenceOutcome(**o) for o in raw["outcomes"]))
    t1 = sitk.ReadImage(str(case_dir / "image.nii.gz"), sitk.sitkFloat32)
    mask = sitk.ReadImage(str(case_dir / mask_name))
    mask.CopyInformation(t1)
    images, truths = case_sequences(case_dir)
    out = extract_multi(t1, mask, images, settings, registration, truths=truths)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"vector": json.loads(out.vector.to_json()),
                                   "outcomes": [asdict(o) for o in out.outcomes]}))
        tmp.replace(cache)
    return out


def outcomes_table(cases: Mapping[str, MultiSequenceFeatures]) -> list[dict[str, object]]:
    """One row per (case, slot): used, CPU seconds, Dice — the registration report's input."""
    return [{"Patient": pid, **asdict(o)} for pid, mf in cases.items() for o in mf.outcomes]


def summarise_outcomes(rows: list[dict[str, object]]) -> dict[str, dict[str, float | int]]:
    """Per slot: cases used, Dice (registered / header only) mean, min, share >= 0.85, CPU s."""
    out: dict[str, dict[str, float | int]] = {}
    for slot in SLOTS:
        used = [r for r in rows if r["slot"] == slot and r["used"]]
        d = np.array([r["dice"] for r in used if r["dice"] is not None], float)
        dh = np.array([r["dice_header_only"] for r in used if r["dice_header_only"] is not None],
                      float)
        reg = np.array([r["registration_s"] for r in used], float)
        feat = np.array([r["features_s"] for r in used], float)
        out[slot] = {
            "n_used": len(used),
            "n_missing": sum(1 for r in rows if r["slot"] == slot and not r["used"]),
            "dice_mean": float(d.mean()) if d.size else math.nan,
            "dice_min": float(d.min()) if d.size else math.nan,
            "dice_share_ge_085": float((d >= 0.85).mean()) if d.size else math.nan,
            "dice_header_only_mean": float(dh.mean()) if dh.size else math.nan,
            "registration_cpu_s_median": float(np.median(reg)) if reg.size else math.nan,
            "features_cpu_s_median": float(np.median(feat)) if feat.size else math.nan,
        }
    return out
