"""Write an evaluation-only hold-out cohort (WORC layout) from :mod:`node.holdout.anatomy`.

Each case is stratified over the subgroups the issue reports on: depth (superficial,
intermuscular, deep), size (small 2-20 ml, large 60-500 ml), vendor (ge, siemens, philips) and
acquisition plane (axial, coronal, sagittal) with thick slices along the plane's normal.
Output per case: ``image.nii.gz`` (int16), ``segmentation.nii.gz`` (uint8 truth) and, written
last, ``meta.json`` (subgroups, grid, generator version); ``holdout.json`` lists the cases.

Never use these cases for training or for tuning thresholds: they exist to measure how the
node behaves on studies it was not made from (issue 14).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node import atomic
from node.holdout.anatomy import REGIONS, TUMOUR_TISSUES, design_body, label_map
from node.holdout.signal import VENDORS, acquire, coil_field, tissue_signal

GENERATOR_VERSION = "lipo-holdout 1.1"  # 1.1: deep tumours are never placed inside a bone
DEPTHS = ("superficial", "intermuscular", "deep")
SIZES = ("small", "large")
PLANES = ("axial", "coronal", "sagittal")
SMALL_ML = 20.0

#: plane → (slice axis direction, row direction, column direction) in patient mm (x, y, z)
_AXES = {
    "axial": ((0, 0, 1), (0, 1, 0), (1, 0, 0)),
    "coronal": ((0, 1, 0), (0, 0, -1), (1, 0, 0)),
    "sagittal": ((-1, 0, 0), (0, 0, -1), (0, 1, 0)),
}


@dataclass(frozen=True)
class HoldoutCase:
    """Subgroups and acquisition of one hold-out case (meta.json)."""

    name: str
    seed: int
    region: str
    depth: str
    size: str
    vendor: str
    plane: str
    field_t: float
    alt_like: bool
    design_volume_ml: float
    volume_ml: float
    spacing_xyz: tuple[float, float, float]
    shape_zyx: tuple[int, int, int]
    generator: str = GENERATOR_VERSION


def _grid(rng: np.random.Generator, plane: str, body_r: float, tumour_c: np.ndarray,
          extent: float, max_matrix: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float],
                                                    tuple[int, int, int]]:
    """Origin, direction (3x3, columns = col/row/slice), spacing (col, row, slice), shape."""
    slice_dir, row_dir, col_dir = (np.asarray(a, float) for a in _AXES[plane])
    thick = float(rng.uniform(3.5, 6.5))
    margin = float(rng.uniform(12, 35))
    n_slices = int(min(40, max(8, math.ceil((2 * extent + 2 * margin) / thick))))
    if plane == "axial":
        fov_r = fov_c = 2 * body_r * 1.25
    else:
        fov_r = float(rng.uniform(200, 320))  # along the limb
        fov_c = 2 * body_r * 1.25
    matrix = int(min(max_matrix, rng.choice([192, 224, 256])))
    pix = max(fov_r, fov_c) / matrix
    rows, cols = round(fov_r / pix), round(fov_c / pix)
    centre = np.array([0.0, 0.0, tumour_c[2]])
    along = tumour_c @ slice_dir + float(rng.uniform(-0.3, 0.3)) * margin
    centre = centre - (centre @ slice_dir) * slice_dir + along * slice_dir
    if plane != "axial":  # the tumour sits somewhere in the long FOV, not always centred
        centre = centre + row_dir * float(rng.uniform(-0.2, 0.2)) * fov_r * -1
    origin = (centre - col_dir * pix * (cols - 1) / 2 - row_dir * pix * (rows - 1) / 2
              - slice_dir * thick * (n_slices - 1) / 2)
    direction = np.stack([col_dir, row_dir, slice_dir], axis=1)
    return origin, direction, (pix, pix, thick), (n_slices, rows, cols)


def render_case(seed: int, region: str, depth: str, size: str, vendor: str, plane: str,
                max_matrix: int = 256) -> tuple[np.ndarray, np.ndarray, sitk.Image, HoldoutCase]:
    """Image (z, y, x int16), truth mask (uint8), reference image for geometry, metadata."""
    rng = np.random.default_rng([seed, 0x401D])
    alt_like = bool(rng.random() < 0.4)
    volume = float(np.exp(rng.uniform(np.log(2.0), np.log(12))) if size == "small"
                   else np.exp(rng.uniform(np.log(60), np.log(500))))
    if region in ("calf", "upper_arm") and size == "large":
        volume = min(volume, 180.0)
    body = design_body(rng, region, depth, volume, alt_like)
    t = body.tumour
    assert t is not None
    field_t = float(rng.choice([1.5, 3.0]))
    body_r = max(body.ax, body.ay) * 1.25 + (body.bulge[2] if body.bulge else 0.0)
    origin, direction, spacing, shape = _grid(rng, plane, body_r, t.centre, t.extent_mm, max_matrix)
    n_slices, rows, cols = shape
    sub = int(min(5, max(2, round(spacing[2] / 1.0))))
    kk = (np.arange(n_slices * sub) + 0.5) / sub - 0.5
    rr, cc = np.arange(rows), np.arange(cols)
    labels = np.zeros((n_slices * sub, rows, cols), dtype=np.uint8)
    field = np.zeros(labels.shape, dtype=np.float32)
    for i, k in enumerate(kk):
        pts = (origin[None, None, :] + cc[None, :, None] * spacing[0] * direction[:, 0]
               + rr[:, None, None] * spacing[1] * direction[:, 1] + k * spacing[2] * direction[:, 2])
        x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
        labels[i] = label_map(body, x, y, z)
        field[i] = coil_field(np.random.default_rng([seed, 0xC011]), (x, y, z), body_r)
    signal = tissue_signal(rng, VENDORS[vendor], field_t)
    image = acquire(labels, signal, field, sub, rng, VENDORS[vendor], pe_axis=1 + int(rng.integers(2)))
    tum = np.isin(labels, [int(x) for x in TUMOUR_TISSUES])
    frac = tum.reshape(n_slices, sub, rows, cols).mean(axis=1)
    mask = (frac >= 0.5).astype(np.uint8)
    ref = sitk.GetImageFromArray(mask)
    ref.SetSpacing(spacing)
    ref.SetOrigin(tuple(float(v) for v in origin))
    ref.SetDirection(tuple(float(v) for v in direction.ravel()))
    vol_ml = float(mask.sum()) * float(np.prod(spacing)) / 1000.0
    meta = HoldoutCase(f"holdout-{seed:06d}", seed, region, depth, size, vendor, plane, field_t,
                       alt_like, round(volume, 2), round(vol_ml, 2),
                       tuple(round(s, 4) for s in spacing), shape)  # type: ignore[arg-type]
    return image, mask, ref, meta


def case_plan(n: int, seed: int) -> list[tuple[int, str, str, str, str, str]]:
    """Stratified (seed, region, depth, size, vendor, plane) for ``n`` cases."""
    rng = np.random.default_rng([seed, 0x4014])
    regions = list(REGIONS)
    vendors = list(VENDORS)
    out = []
    for i in range(n):
        out.append((seed * 1000 + i, regions[int(rng.integers(len(regions)))], DEPTHS[i % 3],
                    SIZES[(i // 3) % 2], vendors[(i // 6) % 3], PLANES[(i + i // 3) % 3]))
    return out


def generate_holdout(out_dir: Path, n: int = 24, seed: int = 14, max_matrix: int = 256) -> Path:
    """Write ``n`` cases under ``out_dir`` (each folder atomic); returns holdout.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = []
    for case_seed, region, depth, size, vendor, plane in case_plan(n, seed):
        image, _mask, ref, meta = render_case(case_seed, region, depth, size, vendor, plane, max_matrix)
        folder = out_dir / meta.name
        img = sitk.GetImageFromArray(image)
        img.CopyInformation(ref)
        atomic.write_image(folder / "image.nii.gz", img)
        atomic.write_image(folder / "segmentation.nii.gz", ref)
        # meta.json last: a case folder without it is incomplete and is not read
        atomic.write_text(folder / "meta.json", json.dumps(asdict(meta), indent=1) + "\n")
        cases.append(asdict(meta))
    manifest = out_dir / "holdout.json"
    atomic.write_text(manifest, json.dumps({"generator": GENERATOR_VERSION, "seed": seed,
                                            "evaluation_only": True, "cases": cases}, indent=1) + "\n")
    return manifest


def load_meta(case_dir: Path) -> HoldoutCase:
    data = json.loads((Path(case_dir) / "meta.json").read_text(encoding="utf-8"))
    data["spacing_xyz"] = tuple(data["spacing_xyz"])
    data["shape_zyx"] = tuple(data["shape_zyx"])
    return HoldoutCase(**data)
