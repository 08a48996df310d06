"""What a writer needs to know about a study and its series (format-neutral, classic or Enhanced)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.uid import generate_uid

from node.synthetic.enums import Vendor
from node.synthetic.grid import Grid
from node.synthetic.physics import Protocol
from node.synthetic.vendors import Naming, Role


def uid(seed: int, *parts: object) -> str:
    """A UID derived from the seed and a path of names: same inputs, same UID (PS3.5 9.1;
    pydicom's ``generate_uid`` hashes ``entropy_srcs`` under its registered root)."""
    return generate_uid(entropy_srcs=[f"lipo-synth:{seed}", *(str(p) for p in parts)])


@dataclass(frozen=True)
class Frame:
    """One 2D image and its place in patient space (PS3.3 C.7.6.2)."""

    pixels: np.ndarray                    # uint16 (rows, cols)
    ipp: tuple[float, float, float]
    iop: tuple[float, float, float, float, float, float]
    pixel_spacing: tuple[float, float]    # (between rows, between columns)
    thickness: float
    spacing_between: float


def frames_from_grid(grid: Grid, volume: np.ndarray) -> list[Frame]:
    iop = tuple(float(v) for v in (*grid.row, *grid.col))
    return [Frame(pixels=volume[k], ipp=tuple(float(v) for v in grid.slice_position(k)), iop=iop,
                  pixel_spacing=grid.pixel_mm, thickness=grid.thickness_mm,
                  spacing_between=grid.slice_spacing_mm) for k in range(grid.shape[0])]


@dataclass(frozen=True)
class StudyContext:
    seed: int
    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    age: int
    study_uid: str
    study_date: str
    study_time: str
    accession: str
    frame_of_reference_uid: str
    vendor: Vendor
    manufacturer: str
    model: str
    software: str
    field_t: float
    patient_position: str     # HFS / FFS
    body_part: str
    laterality: str           # R / L / "" for midline sites


@dataclass(frozen=True)
class SeriesData:
    role: Role
    number: int
    uid: str
    description: str
    naming: Naming
    protocol: Protocol
    frames: list[Frame]
    derived: bool
    contrast_agent: str | None
    window: tuple[float, float]   # centre, width
    acquisition_contrast: str     # Enhanced MR AcquisitionContrast: T1, T2, PROTON_DENSITY, MIXED
    phase_dir: str                # InPlanePhaseEncodingDirection ROW / COL
    minutes: int                  # acquisition time after the study start
    frame_te: tuple[float, ...] | None = None  # per-frame echo time (multi-echo field maps)

    @property
    def complex_component(self) -> str:
        """ComplexImageComponent (0008,9208): PHASE when ImageType value 3 says P."""
        return "PHASE" if {"P", "PHASE MAP"} & set(self.naming.image_type_extra[:2]) else "MAGNITUDE"

    @property
    def image_type(self) -> list[str]:
        head = ["DERIVED", "SECONDARY"] if self.derived else ["ORIGINAL", "PRIMARY"]
        return head + list(self.naming.image_type_extra or ("OTHER",))
