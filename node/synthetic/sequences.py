"""The other sequences of a cohort case (T1-FS, T1-GD, T2/T2-FS/STIR) for multi-sequence radiomics.

Cohorts hold only the T1 (``image.nii.gz``) and its truth mask. ``add_sequences`` renders, for
each patient of an existing cohort, the sequences the paper's multi-sequence models used, each
on its own grid (own plane, slab and matrix) and with the patient moved a little
(:mod:`node.synthetic.motion`), plus the truth mask *on that sequence's grid* — which the node
never sees; it only scores how well the registered T1 mask lands there.

Layout: ``<Patient>/sequences/<slot>.nii.gz`` + ``<slot>_truth.nii.gz`` and
``<Patient>/sequences/sequences.json`` (slot → protocol, plane, motion). Not every patient has
every sequence (clinical protocols differ; WORC imputes what is missing).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.atomic import write_image, write_text
from node.synthetic.anatomy import build_phantom
from node.synthetic.draws import CaseDraw, draw_case
from node.synthetic.enums import Plane
from node.synthetic.motion import Motion, draw_motion, sample_moved
from node.synthetic.physics import Protocol, Sequence, stir_null_ti
from node.synthetic.planning import _extent, plan_t1
from node.synthetic.profiles import get_profile
from node.synthetic.render import draw_acquisition, form_image

SEQUENCES_DIR = "sequences"
META_FILE = "sequences.json"


class SeqSlot(StrEnum):
    """The non-T1 inputs of the paper's multi-sequence models."""

    T1FS = "t1fs"     # T1 with spectral fat saturation, before contrast
    T1GD = "t1gd"     # T1 (fat-saturated) after gadolinium
    T2 = "t2"         # fluid-sensitive: T2, T2-FS or STIR (whichever the protocol had)


# share of patients whose protocol holds the sequence (the rest is imputed)
PRESENCE = {SeqSlot.T1FS: 0.55, SeqSlot.T1GD: 0.75, SeqSlot.T2: 0.9}


@dataclass(frozen=True)
class RenderedSequence:
    slot: SeqSlot
    kind: str            # t1fs, t1gd, t2, t2fs, stir
    plane: Plane
    image: sitk.Image
    truth: sitk.Image
    motion: Motion


def _protocol(slot: SeqSlot, field_t: float, rng: np.random.Generator) -> tuple[str, Protocol]:
    u = rng.uniform
    if slot is SeqSlot.T1FS:
        return "t1fs", Protocol(Sequence.spin_echo, tr=float(u(450, 750)), te=float(u(8, 15)),
                                fat_sat=True, echo_train=3)
    if slot is SeqSlot.T1GD:
        return "t1gd", Protocol(Sequence.spin_echo, tr=float(u(450, 750)), te=float(u(8, 15)),
                                fat_sat=True, contrast=True, echo_train=3)
    kind = str(rng.choice(["t2", "t2fs", "stir"], p=[0.25, 0.35, 0.4]))
    if kind == "stir":
        return kind, Protocol(Sequence.inversion_recovery, tr=float(u(3500, 5500)),
                              te=float(u(30, 60)), ti=stir_null_ti(field_t) * float(u(0.95, 1.05)),
                              echo_train=12)
    return kind, Protocol(Sequence.spin_echo, tr=float(u(3000, 5000)), te=float(u(60, 90)),
                          fat_sat=kind == "t2fs", echo_train=16)


def render_sequences(case: CaseDraw, max_matrix: int = 256, max_slices: int = 40,
                     slots: tuple[SeqSlot, ...] | None = None) -> list[RenderedSequence]:
    """The sequences this case's protocol has (``slots`` forces a set), each moved and on its
    own grid. T2/STIR are usually coronal when the T1 is axial; T1-FS/GD follow the T1 plane."""
    rng = np.random.default_rng([case.seed, 0x5E0])
    ph = build_phantom(case)
    lo, hi = _extent(ph)
    centre = (lo + hi) / 2
    t1_plane = case.plane if case.plane in (Plane.axial, Plane.coronal) else Plane.axial
    other = Plane.coronal if t1_plane is Plane.axial else Plane.axial
    out = []
    for number, slot in enumerate(SeqSlot, start=2):
        present = rng.random() < PRESENCE[slot]
        if slots is not None:
            present = slot in slots
        if not present:
            continue
        kind, proto = _protocol(slot, case.field_t, rng)
        plane = other if (slot is SeqSlot.T2 and rng.random() < 0.6) else t1_plane
        grid = plan_t1(case, ph, rng, plane=plane, max_matrix=max_matrix,
                       max_slices=max_slices).grid
        motion = draw_motion(case.seed, number, centre)
        s = sample_moved(ph, grid, motion)
        img = form_image(s, proto, case.field_t, draw_acquisition(rng),
                         ph.tumours[0].fat_t1_scale if ph.tumours else 1.0)
        out.append(RenderedSequence(slot, kind, plane, grid.to_sitk(img.astype(np.int16)),
                                    grid.to_sitk(s.mask()), motion))
    return out


def sequence_paths(case_dir: Path) -> dict[SeqSlot, Path]:
    """Slot → image file of a cohort patient (empty when it has no sequences folder)."""
    d = Path(case_dir) / SEQUENCES_DIR
    return {s: d / f"{s.value}.nii.gz" for s in SeqSlot if (d / f"{s.value}.nii.gz").is_file()}


def truth_path(case_dir: Path, slot: SeqSlot) -> Path:
    return Path(case_dir) / SEQUENCES_DIR / f"{slot.value}_truth.nii.gz"


def write_sequences(case_dir: Path, seqs: list[RenderedSequence]) -> None:
    """``<case_dir>/sequences/``: every file through the one atomic writer, the meta file last, so
    its presence marks a complete set (``add_sequences`` redoes a case without it)."""
    final = Path(case_dir) / SEQUENCES_DIR
    (final / META_FILE).unlink(missing_ok=True)
    final.mkdir(parents=True, exist_ok=True)
    meta = {}
    for s in seqs:
        write_image(final / f"{s.slot.value}.nii.gz", s.image)
        write_image(final / f"{s.slot.value}_truth.nii.gz", s.truth)
        meta[s.slot.value] = {"kind": s.kind, "plane": s.plane.value, "motion": asdict(s.motion)}
    write_text(final / META_FILE, json.dumps(meta, indent=1, sort_keys=True))


def add_sequences(cohort_dir: Path, limit: int | None = None, max_matrix: int = 256,
                  progress: bool = False) -> list[str]:
    """Render the sequences of every patient of a cohort that lacks them (restartable).

    The case is re-drawn from ``truth.json`` (profile name and seed), so the sequences show
    the same tumour as the cohort's T1. Returns the patients rendered by this call.
    """
    done = []
    for truth in sorted(Path(cohort_dir).glob("*/truth.json"))[:limit]:
        case_dir = truth.parent
        if (case_dir / SEQUENCES_DIR / META_FILE).is_file():
            continue
        t = json.loads(truth.read_text())
        prof = get_profile(case_dir.name.rsplit("-", 1)[0])
        case = draw_case(prof, int(t["seed"]))
        write_sequences(case_dir, render_sequences(case, max_matrix=max_matrix))
        done.append(case_dir.name)
        if progress:
            print(f"{case_dir.name}: sequences", flush=True)
    return done
