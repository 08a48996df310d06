"""One patient visit as a PACS sends it: a multi-series MR study plus ground truth.

Series (SYNTHETIC.md): 3-plane localizer; the T1-weighted SE/TSE (the one to select); STIR or
T2 fat-sat; T1 fat-sat post-contrast (sometimes absent); and hard distractors: a plain T1 in a
second plane, a derived MPR of the post-contrast series, a PD-weighted series without a
description. About 10 % of studies carry a misleading description. Every series is rendered
from the same phantom, so they agree anatomically; ``truth/mask.nii.gz`` is in the T1
series' geometry and ``truth/meta.json`` says what is what.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from node.synthetic.anatomy import build_phantom
from node.synthetic.cohort import GENERATOR_VERSION
from node.synthetic.draws import CaseDraw, draw_case
from node.synthetic.enums import Depth, Label, Location, Plane, QcCase, Vendor
from node.synthetic.profiles import get_profile
from node.synthetic.series import StudyContext, uid
from node.synthetic.study_series import build_series
from node.synthetic.vendors import CONTRAST_AGENT, MANUFACTURER, MODELS, SOFTWARE, Role

_BODY_PART = {Location.thigh: "THIGH", Location.arm: "ARM", Location.trunk: "CHEST",
              Location.head_neck: "NECK", Location.pelvis: "PELVIS"}


@dataclass(frozen=True)
class StudySpec:
    """What to generate; ``None`` fields are drawn from ``profile`` with ``seed``."""

    seed: int = 0
    vendor: Vendor | str | None = None
    enhanced: bool = False
    label: Label | str | None = None
    location: Location | str | None = None
    case: QcCase | str = QcCase.normal
    profile: str = "train"
    max_matrix: int = 256
    misleading: bool | None = None
    extra_series: bool = False  # add MP-RAGE, Dixon quartet, field map, subtraction (extra_series.py)

    def __post_init__(self) -> None:
        for name, enum in (("vendor", Vendor), ("label", Label), ("location", Location)):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, enum(v))
        object.__setattr__(self, "case", QcCase(self.case))
        get_profile(self.profile)
        if not 64 <= self.max_matrix <= 1024:
            raise ValueError(f"max_matrix {self.max_matrix} outside 64..1024")

    @classmethod
    def from_case(cls, case: CaseDraw, profile: str = "train", max_matrix: int = 256) -> StudySpec:
        """The study of a cohort patient (same seed and profile, so the same draw)."""
        return cls(seed=case.seed, vendor=case.vendor, enhanced=case.enhanced, label=case.label,
                   location=case.location, profile=profile, misleading=case.misleading,
                   max_matrix=max_matrix)


@dataclass(frozen=True)
class SeriesInfo:
    uid: str
    number: int
    role: str
    description: str
    folder: Path
    n_files: int


@dataclass(frozen=True)
class StudyResult:
    study_dir: Path
    study_uid: str
    t1_series_uid: str
    t1_series_dir: Path
    series: tuple[SeriesInfo, ...]
    mask_path: Path
    meta_path: Path
    meta: dict = field(repr=False)


def _case(spec: StudySpec) -> CaseDraw:
    forced: dict[str, object] = {}
    for name in ("label", "location", "vendor"):
        if getattr(spec, name) is not None:
            forced[name] = getattr(spec, name)
    if spec.case is QcCase.superficial:
        forced["depth"] = Depth.superficial
    case = draw_case(get_profile(spec.profile), spec.seed, **forced)
    if spec.misleading is not None:
        case = replace(case, misleading=spec.misleading)
    return replace(case, enhanced=spec.enhanced)


def _context(case: CaseDraw, feet_first: bool, rng: np.random.Generator) -> StudyContext:
    seed = case.seed
    day = int(rng.integers(0, 365 * 3))
    date = np.datetime64("2022-01-01") + np.timedelta64(day, "D")
    models = MODELS[case.vendor][case.field_t]
    lat = "" if case.location in (Location.trunk, Location.head_neck, Location.pelvis) \
        else str(rng.choice(["R", "L"]))
    return StudyContext(
        seed=seed, patient_name=f"SYNTH^{seed:08d}", patient_id=f"SYN{seed:08d}",
        birth_date=f"{int(str(date)[:4]) - case.age}0101", sex=case.sex.value, age=case.age,
        study_uid=uid(seed, "study"), study_date=str(date).replace("-", ""),
        study_time=f"{int(rng.integers(7, 18)):02d}{int(rng.integers(0, 60)):02d}00",
        accession=f"A{seed % 10**8:08d}", frame_of_reference_uid=uid(seed, "frame-of-reference"),
        vendor=case.vendor, manufacturer=MANUFACTURER[case.vendor],
        model=str(models[int(rng.integers(0, len(models)))]), software=SOFTWARE[case.vendor],
        field_t=case.field_t, patient_position="FFS" if feet_first else "HFS",
        body_part=_BODY_PART[case.location], laterality=lat,
    )


# plain T1-weighted series a reader would accept in place of the T1 (not fat-suppressed, pre-contrast)
_ALTERNATIVE_T1 = {Role.t1_second.value, Role.mprage.value, Role.dixon_in.value}


def generate_study(out_dir: Path, spec: StudySpec | None = None, *, seed: int | None = None) -> StudyResult:
    """Write one study under ``out_dir`` (DICOM series folders + ``truth/``); same spec, same bytes."""
    spec = spec or StudySpec()
    if seed is not None:
        spec = replace(spec, seed=seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    case = _case(spec)
    n_tumours = {QcCase.no_tumour: 0, QcCase.two_tumours: 2}.get(spec.case, 1)
    ph = build_phantom(case, n_tumours=n_tumours)
    rng = np.random.default_rng([case.seed, 0x57D])
    built = build_series(case, ph, rng, spec.case, spec.max_matrix)
    ctx = _context(case, built.feet_first, rng)
    if spec.extra_series:
        from node.synthetic.extra_series import extra_series

        more = extra_series(case, ph, built.t1_grid, built.t1_plane, len(built.series) + 1, spec.max_matrix)
        built = replace(built, series=[*built.series, *more])
    agent = CONTRAST_AGENT[case.vendor]
    from node.synthetic.dicom_classic import write_classic
    from node.synthetic.dicom_enhanced import write_enhanced

    writer = write_enhanced if spec.enhanced else write_classic
    infos = []
    for s in built.series:
        s = replace(s, contrast_agent=agent if s.contrast_agent else None)
        folder = out_dir / f"S{s.number:04d}"
        paths = writer(s, ctx, folder)
        infos.append(SeriesInfo(s.uid, s.number, s.role.value, s.description, folder, len(paths)))
    truth = out_dir / "truth"
    truth.mkdir(exist_ok=True)
    import SimpleITK as sitk  # noqa: N813 (the library's own convention)

    mask_path = truth / "mask.nii.gz"
    sitk.WriteImage(built.t1_grid.to_sitk(built.mask), str(mask_path), useCompression=True)
    t1 = next(i for i in infos if i.role == Role.t1.value)
    meta = {
        "generator": GENERATOR_VERSION, "seed": case.seed, "profile": spec.profile,
        "label": case.label.value if n_tumours else None, "location": case.location.value,
        "depth": case.depth.value, "diameter_mm": round(case.diameter_mm, 2) if n_tumours else 0.0,
        "volume_ml": round(float(built.mask.sum()) * float(np.prod(built.t1_grid.spacing_xyz)) / 1000, 3),
        "n_tumours": n_tumours, "case": spec.case.value, "vendor": case.vendor.value,
        "field_strength": case.field_t, "enhanced": spec.enhanced, "misleading": built.misleading,
        "study_uid": ctx.study_uid, "t1_series_uid": t1.uid, "t1_series_number": t1.number,
        "t1_alternative_series_uids": [i.uid for i in infos if i.role in _ALTERNATIVE_T1],
        "age": case.age, "sex": case.sex.value, "patient_position": ctx.patient_position,
        "t1_plane": built.t1_plane.value, "t1_shape_zyx": list(built.t1_grid.shape),
        "tumour_box_lps_mm": built.tumour_box, "mask_box_lps_mm": built.mask_box,
        "series": [{**{k: str(v) if isinstance(v, Path) else v for k, v in asdict(i).items()},
                    "folder": i.folder.name} for i in infos],
    }
    meta_path = truth / "meta.json"
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    return StudyResult(out_dir, ctx.study_uid, t1.uid, t1.folder, tuple(infos), mask_path, meta_path, meta)


__all__ = ["Plane", "SeriesInfo", "StudyResult", "StudySpec", "generate_study"]
