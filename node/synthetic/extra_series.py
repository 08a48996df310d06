"""Extra series of real MSK/neuro protocols (``StudySpec.extra_series``): the series types that
real scanners send and selection must tell apart from the T1 it should segment on.

- MP-RAGE-like inversion-prepared 3D GRE T1 (sagittal): Siemens writes the whole inversion
  cycle as TR and no IR in ScanningSequence (tfl3d), GE the echo spacing with IR_GEMS (BRAVO);
- VIBE/LAVA/mDIXON-like 3D GRE Dixon quartet on the T1 grid: in-phase = water + fat,
  opposed-phase = |water - fat|, water (fat suppressed), fat (Ma, JMRI 2008;28:543);
- a B0 field map: magnitude of two echoes in one series (TE 4.92 / 7.38 ms) and its phase;
- a post-contrast subtraction (post minus pre, DERIVED ... SUBTRACTION).

Drawn from their own random stream, after the default series, so a study without extras (every
cohort) stays byte-identical.
"""

from __future__ import annotations

import numpy as np

from node.synthetic.anatomy import Phantom
from node.synthetic.draws import CaseDraw
from node.synthetic.enums import Plane, QcCase, Vendor
from node.synthetic.grid import Grid
from node.synthetic.physics import Protocol, Sequence
from node.synthetic.planning import plan_t1
from node.synthetic.render import draw_acquisition, form_image, sample
from node.synthetic.series import Frame, SeriesData, frames_from_grid, uid
from node.synthetic.vendors import Naming, Role, series_number

_PLANE = {
    Vendor.siemens: {Plane.axial: "tra", Plane.coronal: "cor", Plane.sagittal: "sag"},
    Vendor.ge: {Plane.axial: "Ax", Plane.coronal: "Cor", Plane.sagittal: "Sag"},
    Vendor.philips: {Plane.axial: "TRA", Plane.coronal: "COR", Plane.sagittal: "SAG"},
}
_DIXON = {  # role → (Siemens suffix + ImageType tokens, GE prefix, Philips suffix + ImageType tokens)
    Role.dixon_in: ("in", ("DIXON", "IN_PHASE"), "InPhase", "IP", ("IP", "M", "FFE")),
    Role.dixon_opp: ("opp", ("DIXON", "OPP_PHASE"), "OutPhase", "OP", ("OP", "M", "FFE")),
    Role.dixon_water: ("W", ("DIXON", "WATER"), "WATER", "W", ("W", "W", "FFE")),
    Role.dixon_fat: ("F", ("DIXON", "FAT"), "FAT", "F", ("F", "F", "FFE")),
}


def extra_naming(vendor: Vendor, role: Role, plane: Plane) -> Naming:
    """How ``vendor`` names and tags the extra series (see module docstring)."""
    p = _PLANE[vendor][plane]
    if role in _DIXON:
        si, si_type, ge, ph, ph_type = _DIXON[role]
        return {
            Vendor.siemens: Naming(
                f"t1_vibe_dixon_{p}_{si}", "GR", "SK\\SP\\OSP", "", "*fl3d2", si_type
            ),
            Vendor.ge: Naming(
                f"{ge}: {p} LAVA-Flex", "GR", "SS\\SP\\SK", "FAST_GEMS\\EDR_GEMS", "efgre3d", ()
            ),
            Vendor.philips: Naming(f"mDIXON_{p}_{ph}", "GR", "SK", "", "FFE", ph_type),
        }[vendor]
    table = {
        Vendor.siemens: {
            Role.mprage: Naming(
                f"t1_mprage_{p}", "GR", "SK\\SP\\MP", "", "*tfl3d1_16ns", ("M", "ND", "NORM")
            ),
            Role.fieldmap_mag: Naming("gre_field_mapping", "GR", "SP", "", "*fm2d2r", ("M", "ND")),
            Role.fieldmap_phase: Naming(
                "gre_field_mapping", "GR", "SP", "", "*fm2d2r", ("P", "ND")
            ),
            Role.subtraction: Naming(
                f"t1_vibe_fs_{p}_KM_SUB", "GR", "SK\\SP", "FS", "*fl3d1", ("SUB", "NORM")
            ),
        },
        Vendor.ge: {
            Role.mprage: Naming(
                f"{p} 3D BRAVO", "GR", "SS\\SP\\SK", "FAST_GEMS\\IR_GEMS", "efgre3d", ()
            ),
            Role.fieldmap_mag: Naming("B0map", "GR", "SP", "", "fgre", ()),
            Role.fieldmap_phase: Naming("B0map", "GR", "SP", "", "fgre", ("P",)),
            Role.subtraction: Naming(
                f"{p} LAVA +C SUB", "GR", "SS\\SP\\SK", "FS", "efgre3d", ("SUBTRACTION",)
            ),
        },
        Vendor.philips: {
            Role.mprage: Naming(f"3D_T1W_TFE_{p}", "GR", "MP", "", "TFE", ("M_FFE", "M", "FFE")),
            Role.fieldmap_mag: Naming("B0_map", "GR", "SP", "", "FFE", ("M_FFE", "M", "FFE")),
            Role.fieldmap_phase: Naming("B0_map", "GR", "SP", "", "FFE", ("PHASE MAP", "P", "FFE")),
            Role.subtraction: Naming(
                f"THRIVE_{p}_GD_SUB", "GR", "SK", "FS", "THRIVE", ("SUBTRACTION", "M", "FFE")
            ),
        },
    }
    return table[vendor][role]


def _series(
    case: CaseDraw,
    role: Role,
    plane: Plane,
    number: int,
    proto: Protocol,
    frames: list[Frame],
    *,
    derived: bool = False,
    contrast: str = "T1",
    frame_te: tuple[float, ...] | None = None,
) -> SeriesData:
    pixels = np.stack([f.pixels for f in frames])
    body = pixels[pixels > np.percentile(pixels, 60)]
    lo, hi = np.percentile(body, [2, 98]) if body.size else (0, 1)
    n = extra_naming(case.vendor, role, plane)
    return SeriesData(
        role=role,
        number=number,
        uid=uid(case.seed, "series", number, role.value),
        description=n.description,
        naming=n,
        protocol=proto,
        frames=frames,
        derived=derived,
        contrast_agent="yes" if proto.contrast else None,
        window=(float((lo + hi) / 2), float(hi - lo)),
        acquisition_contrast=contrast,
        phase_dir="ROW" if plane is Plane.axial else "COL",
        minutes=40 + 3 * number % 20,
        frame_te=frame_te,
    )


def _phase(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """A smooth B0 phase-difference map in 12-bit unsigned (0..4095 = -pi..pi)."""
    nz, ny, nx = grid.shape
    z, y, x = np.meshgrid(
        np.linspace(-1, 1, nz), np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij"
    )
    c = rng.normal(0, 1.2, 4)
    ph = np.angle(np.exp(1j * (c[0] * x + c[1] * y + c[2] * z + c[3] * (x**2 + y**2))))
    return np.rint((ph + np.pi) / (2 * np.pi) * 4095).astype(np.uint16)


def extra_series(
    case: CaseDraw, ph: Phantom, t1_grid: Grid, t1_plane: Plane, first_index: int, max_matrix: int
) -> list[SeriesData]:
    """The extra series of ``case``, numbered from ``first_index`` (1-based exam position)."""
    rng = np.random.default_rng([case.seed, 0xE87A])
    s = sample(ph, t1_grid, 1, 1)
    in_te = 4.6 if case.field_t < 2 else 2.3
    gre = Protocol(Sequence.gradient_echo, tr=6.5, te=in_te, flip_deg=10.0, three_d=True)
    acq = draw_acquisition(rng)
    inphase = form_image(s, gre, case.field_t, acq).astype(np.float32)
    water = form_image(s, Protocol(**{**gre.__dict__, "fat_sat": True}), case.field_t, acq).astype(
        np.float32
    )
    fat = np.clip(inphase - water, 0, None)
    images = {
        Role.dixon_in: inphase,
        Role.dixon_opp: np.abs(water - fat),
        Role.dixon_water: water,
        Role.dixon_fat: fat,
    }
    out: list[SeriesData] = []
    index = first_index

    def number() -> int:
        nonlocal index
        index += 1
        return series_number(case.vendor, index - 1)

    for role, img in images.items():
        te = in_te / 2 if role is Role.dixon_opp else in_te
        proto = Protocol(
            Sequence.gradient_echo,
            tr=6.5,
            te=te,
            flip_deg=10.0,
            three_d=True,
            fat_sat=role is Role.dixon_water,
        )
        out.append(
            _series(
                case,
                role,
                t1_plane,
                number(),
                proto,
                frames_from_grid(t1_grid, np.clip(img, 0, 4095).astype(np.uint16)),
            )
        )
    # MP-RAGE: render with the inversion cycle, write TR as the vendor does
    sag = plan_t1(
        case,
        ph,
        rng,
        QcCase.normal,
        max_matrix=max_matrix,
        plane=Plane.sagittal,
        max_slices=24,
        min_slices=16,
    ).grid
    ti = (
        float(rng.uniform(800, 1100))
        if case.vendor is not Vendor.ge
        else float(rng.uniform(400, 500))
    )
    signal = Protocol(Sequence.inversion_recovery, tr=2000.0, te=2.5, ti=ti, flip_deg=9.0)
    written_tr = 8.0 if case.vendor is Vendor.ge else 2000.0
    mp = form_image(sample(ph, sag, 1, 1), signal, case.field_t, draw_acquisition(rng))
    out.append(
        _series(
            case,
            Role.mprage,
            Plane.sagittal,
            number(),
            Protocol(
                Sequence.gradient_echo, tr=written_tr, te=2.5, ti=ti, flip_deg=9.0, three_d=True
            ),
            frames_from_grid(sag, mp),
            contrast="UNKNOWN",
        )
    )
    # B0 field map: magnitude of both echoes in one series, then the phase difference
    fm = Protocol(Sequence.gradient_echo, tr=500.0, te=4.92, flip_deg=60.0)
    mag1 = form_image(s, fm, case.field_t, acq)
    mag2 = form_image(s, Protocol(**{**fm.__dict__, "te": 7.38}), case.field_t, acq)
    frames = frames_from_grid(t1_grid, mag1) + frames_from_grid(t1_grid, mag2)
    out.append(
        _series(
            case,
            Role.fieldmap_mag,
            t1_plane,
            number(),
            fm,
            frames,
            contrast="UNKNOWN",
            frame_te=(4.92,) * len(mag1) + (7.38,) * len(mag2),
        )
    )
    out.append(
        _series(
            case,
            Role.fieldmap_phase,
            t1_plane,
            number(),
            Protocol(**{**fm.__dict__, "te": 7.38}),
            frames_from_grid(t1_grid, _phase(t1_grid, rng)),
            contrast="UNKNOWN",
        )
    )
    # subtraction: fat-suppressed 3D GRE post minus pre
    vibe = Protocol(
        Sequence.gradient_echo, tr=5.0, te=2.0, flip_deg=12.0, fat_sat=True, three_d=True
    )
    pre = form_image(s, vibe, case.field_t, acq).astype(np.float32)
    post = form_image(s, Protocol(**{**vibe.__dict__, "contrast": True}), case.field_t, acq).astype(
        np.float32
    )
    sub = np.clip(post - pre, 0, 4095).astype(np.uint16)
    out.append(
        _series(
            case,
            Role.subtraction,
            t1_plane,
            number(),
            Protocol(**{**vibe.__dict__, "contrast": True}),
            frames_from_grid(t1_grid, sub),
            derived=True,
        )
    )
    return out
