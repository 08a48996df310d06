"""Render the series of one study: plan each grid, pick protocols, name them like the vendor.

The T1 series gets full supersampling (its mask is the ground truth); distractors are
sampled more coarsely (2 points across the slice) to keep a study at a few seconds. The
post-contrast series reuses the T1 geometry when both are axial, as most protocols do, and
the derived series is a real reformat (SimpleITK resampling) of the post-contrast volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's own convention)

from node.synthetic.anatomy import Phantom
from node.synthetic.draws import CaseDraw
from node.synthetic.enums import Plane, QcCase
from node.synthetic.grid import Grid, make_grid
from node.synthetic.motion import draw_motion, sample_moved
from node.synthetic.physics import Protocol, Sequence, stir_null_ti
from node.synthetic.planning import _extent, plan_t1, t1_protocol
from node.synthetic.render import Sampled, draw_acquisition, form_image, sample
from node.synthetic.series import Frame, SeriesData, frames_from_grid, uid
from node.synthetic.vendors import MISLEADING, Role, naming, series_number

_CONTRAST = {
    Role.t1: "T1",
    Role.t1_second: "T1",
    Role.stir: "STIR",
    Role.t2_fs: "T2",
    Role.t1_fs_post: "T1",
    Role.derived: "T1",
    Role.unnamed: "PROTON_DENSITY",
    Role.localizer: "T1",
}


@dataclass(frozen=True)
class Built:
    series: list[SeriesData]
    t1_grid: Grid
    t1_plane: Plane
    mask: np.ndarray
    feet_first: bool
    misleading: str | None
    tumour_box: list[list[float]]
    mask_box: list[list[float]] | None


def _protocol(role: Role, case: CaseDraw, rng: np.random.Generator) -> Protocol:
    u = rng.uniform
    if role in (Role.t1, Role.t1_second):
        return t1_protocol(rng)
    if role is Role.stir:
        return Protocol(
            Sequence.inversion_recovery,
            tr=float(u(3500, 5500)),
            te=float(u(30, 60)),
            ti=stir_null_ti(case.field_t) * float(u(0.95, 1.05)),
            echo_train=int(rng.integers(10, 18)),
        )
    if role is Role.t2_fs:
        return Protocol(
            Sequence.spin_echo,
            tr=float(u(3000, 5000)),
            te=float(u(60, 90)),
            fat_sat=True,
            echo_train=int(rng.integers(12, 20)),
        )
    if role in (Role.t1_fs_post, Role.derived):
        if naming(case.vendor, Role.t1_fs_post, Plane.axial).scanning_sequence == "GR":
            return Protocol(
                Sequence.gradient_echo,
                tr=float(u(200, 350)),
                te=float(u(2.4, 4.8)),
                flip_deg=70.0,
                fat_sat=True,
                contrast=True,
            )
        return Protocol(
            Sequence.spin_echo,
            tr=float(u(450, 750)),
            te=float(u(8, 15)),
            fat_sat=True,
            contrast=True,
            echo_train=3,
        )
    if role is Role.unnamed:
        return Protocol(Sequence.spin_echo, tr=float(u(2000, 3200)), te=float(u(20, 35)), echo_train=7)
    return Protocol(Sequence.gradient_echo, tr=8.0, te=4.0, flip_deg=20.0)


def _window(img: np.ndarray) -> tuple[float, float]:
    body = img[img > np.percentile(img, 60)]
    lo, hi = np.percentile(body, [2, 98]) if body.size else (0, 1)
    return float((lo + hi) / 2), float(hi - lo)


def _series(
    case: CaseDraw,
    role: Role,
    plane: Plane,
    number: int,
    proto: Protocol,
    grid_frames: list[Frame],
    desc: str | None = None,
    derived: bool = False,
) -> SeriesData:
    n = naming(case.vendor, role, plane)
    pixels = np.stack([f.pixels for f in grid_frames])
    return SeriesData(
        role=role,
        number=number,
        uid=uid(case.seed, "series", number, role.value),
        description=n.description if desc is None else desc,
        naming=n,
        protocol=proto,
        frames=grid_frames,
        derived=derived,
        contrast_agent="yes" if proto.contrast else None,
        window=_window(pixels),
        acquisition_contrast=_CONTRAST[role],
        phase_dir="ROW" if plane is Plane.axial else "COL",
        minutes=3 + 4 * number % 60,
    )


def _localizer(case: CaseDraw, ph: Phantom, centre: np.ndarray, rng: np.random.Generator) -> list[Frame]:
    frames: list[Frame] = []
    proto = _protocol(Role.localizer, case, rng)
    for plane in (Plane.sagittal, Plane.coronal, Plane.axial):
        g = make_grid(plane, centre, (420.0, 420.0), (128, 128), 3, 8.0, 12.0)
        img = form_image(sample(ph, g, 1, 1), proto, case.field_t, draw_acquisition(rng))
        frames += frames_from_grid(g, img)
    return frames


def _mpr(post_grid: Grid, post: np.ndarray, plane: Plane, centre: np.ndarray) -> tuple[Grid, np.ndarray]:
    """Reformat the post-contrast volume into ``plane`` (3 mm slices), linear interpolation."""
    fov = post_grid.pixel_mm[0] * post_grid.shape[1]
    g = make_grid(plane, centre, (fov, fov), (post_grid.shape[1], post_grid.shape[2]), 24, 3.0, 0.0)
    ref = g.to_sitk(np.zeros(g.shape, dtype=np.uint16))
    out = sitk.Resample(post_grid.to_sitk(post), ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkUInt16)
    return g, sitk.GetArrayFromImage(out)


def _box(grid: Grid, mask: np.ndarray) -> list[list[float]] | None:
    idx = np.argwhere(mask > 0)
    if idx.size == 0:
        return None
    ijk = idx[:, ::-1].astype(float) * np.asarray(grid.spacing_xyz)
    lps = np.asarray(grid.origin) + ijk @ grid.direction.T
    return [lps.min(0).round(3).tolist(), lps.max(0).round(3).tolist()]


def build_series(
    case: CaseDraw, ph: Phantom, rng: np.random.Generator, qc: QcCase, matrix: int
) -> list[SeriesData] | Built:
    t1_plane = case.plane if case.plane in (Plane.axial, Plane.coronal) else Plane.axial
    plan = plan_t1(case, ph, rng, qc, matrix=matrix)
    ff = plan.feet_first
    t1_sampled = sample(ph, plan.grid)
    scale = ph.tumours[0].fat_t1_scale if ph.tumours else 1.0

    def render(s: Sampled, proto: Protocol) -> np.ndarray:
        return form_image(s, proto, case.field_t, draw_acquisition(rng), scale)

    other = Plane.coronal if t1_plane is Plane.axial else Plane.axial
    roles = [Role.t1, Role.stir if rng.random() < 0.6 else Role.t2_fs]
    if rng.random() < 0.35:
        roles.append(Role.t1_second)
    if rng.random() < 0.2:
        roles.append(Role.unnamed)
    pre = [roles[i] for i in rng.permutation(len(roles))]
    post = [Role.t1_fs_post] if rng.random() < 0.8 else []
    if post and rng.random() < 0.3:
        post.append(Role.derived)
    order = [Role.localizer, *pre, *post]
    misleading = str(rng.choice(MISLEADING)) if case.misleading else None
    lo, hi = _extent(ph)
    centre = (lo + hi) / 2
    series: list[SeriesData] = []
    mask = t1_sampled.mask()
    post_vol: tuple[Grid, np.ndarray] | None = None
    for i, role in enumerate(order, start=1):
        number = series_number(case.vendor, i)
        proto = _protocol(role, case, rng)
        plane = t1_plane
        if role is Role.localizer:
            series.append(_series(case, role, Plane.axial, number, proto, _localizer(case, ph, centre, rng)))
            continue
        if role in (Role.t1, Role.unnamed):
            grid, s = plan.grid, t1_sampled
        elif role is Role.derived and post_vol is not None:
            plane = Plane.sagittal if rng.random() < 0.5 else other
            grid, img = _mpr(*post_vol, plane, centre)
            series.append(
                _series(case, role, plane, number, proto, frames_from_grid(grid, img), derived=True)
            )
            continue
        elif role is Role.t1_fs_post and t1_plane is Plane.axial and rng.random() < 0.6:
            plane, grid, s = Plane.axial, plan.grid, t1_sampled
        else:
            plane = {
                Role.stir: Plane.coronal if t1_plane is Plane.axial else Plane.axial,
                Role.t1_second: other,
            }.get(role, Plane.axial)
            few = role is Role.t1_second
            grid = plan_t1(
                case,
                ph,
                rng,
                qc,
                matrix=matrix,
                plane=plane,
                feet_first=ff,
                max_slices=18 if few else 40,
                min_slices=12 if few else 20,
            ).grid
            # the patient moves a little between series (rigid, a few mm / degrees): what the
            # multi-sequence registration has to undo (node/synthetic/motion.py)
            s = sample_moved(ph, grid, draw_motion(case.seed, number, centre), 1, 2)
        img = render(s, proto)
        if role is Role.t1_fs_post:
            post_vol = (grid, img)
        desc = None
        if misleading == "t1_empty" and role is Role.t1:
            desc = ""
        elif misleading == "t1_as_t2" and role is Role.t1:
            desc = naming(case.vendor, Role.t1, plane).description.replace("1", "2", 1)
        elif (misleading == "stir_as_t1" and role in (Role.stir, Role.t2_fs)) or (
            misleading == "post_unmarked" and role is Role.t1_fs_post
        ):
            desc = naming(case.vendor, Role.t1, plane).description
        series.append(_series(case, role, plane, number, proto, frames_from_grid(grid, img), desc))
    return Built(
        series=series,
        t1_grid=plan.grid,
        t1_plane=t1_plane,
        mask=mask,
        feet_first=ff,
        misleading=misleading,
        tumour_box=[lo.round(3).tolist(), hi.round(3).tolist()],
        mask_box=_box(plan.grid, mask),
    )
