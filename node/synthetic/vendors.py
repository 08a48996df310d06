"""Vendor naming and header conventions for the series of a soft-tissue tumour protocol.

Values follow what the three vendors write in the MR Image Module (PS3.3 C.8.3.1):
ScanningSequence (SE, IR, GR), SequenceVariant (SK segmented k-space, SP spoiled, MP
magnetisation prepared, OSP oversampling phase), ScanOptions (FS fat saturation, IR, PFP/PFF
partial Fourier, plus GE's *_GEMS private terms), ImageType values 3+ (Philips M_SE / M_IR /
M_FFE, GE LOCALIZER), SeriesDescription/ProtocolName styles (Siemens ``t1_tse_tra``, GE
``Ax T1 FSE``, Philips ``T1W_TSE_TRA``) and series numbering (Philips 101, 201, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from node.synthetic.enums import Plane, Vendor


class Role(StrEnum):
    localizer = "localizer"
    t1 = "t1"  # the series to select
    t1_second = "t1_second"  # plain T1 in a second plane (acceptable alternative)
    stir = "stir"
    t2_fs = "t2_fs"
    t1_fs_post = "t1_fs_post"
    derived = "derived"  # MPR / reformat of the post-contrast series
    unnamed = "unnamed"  # a series with an empty description (PD-weighted)
    # extra series (StudySpec.extra_series): what real MSK/neuro protocols add
    mprage = "mprage"  # IR-prepared 3D GRE T1 (acceptable alternative)
    dixon_in = "dixon_in"  # VIBE-like 3D GRE Dixon: in-phase (acceptable alternative)
    dixon_opp = "dixon_opp"
    dixon_water = "dixon_water"
    dixon_fat = "dixon_fat"
    fieldmap_mag = "fieldmap_mag"  # B0 field map: magnitude of two echoes in one series
    fieldmap_phase = "fieldmap_phase"  # ... and its phase difference
    subtraction = "subtraction"  # post minus pre


@dataclass(frozen=True)
class Naming:
    description: str
    scanning_sequence: str
    sequence_variant: str
    scan_options: str
    sequence_name: str
    image_type_extra: tuple[str, ...]


_PLANE_SHORT = {
    Vendor.siemens: {Plane.axial: "tra", Plane.coronal: "cor", Plane.sagittal: "sag"},
    Vendor.ge: {Plane.axial: "Ax", Plane.coronal: "Cor", Plane.sagittal: "Sag"},
    Vendor.philips: {Plane.axial: "TRA", Plane.coronal: "COR", Plane.sagittal: "SAG"},
}

MODELS = {
    Vendor.siemens: {1.5: ("Avanto_fit", "Aera", "Sola"), 3.0: ("Skyra", "Prisma", "Vida")},
    Vendor.ge: {
        1.5: ("Optima MR450w", "SIGNA Artist", "SIGNA Explorer"),
        3.0: ("DISCOVERY MR750", "SIGNA Premier", "SIGNA Architect"),
    },
    Vendor.philips: {
        1.5: ("Ingenia", "Achieva", "Ingenia Ambition"),
        3.0: ("Ingenia", "Achieva dStream", "Ingenia Elition X"),
    },
}
MANUFACTURER = {
    Vendor.siemens: "SIEMENS",
    Vendor.ge: "GE MEDICAL SYSTEMS",
    Vendor.philips: "Philips Medical Systems",
}
SOFTWARE = {
    Vendor.siemens: "syngo MR XA31",
    Vendor.ge: "29\\LX\\MR Software release:RX29.1_R02",
    Vendor.philips: "5.7.1\\5.7.1.2",
}
CONTRAST_AGENT = {Vendor.siemens: "Gadovist", Vendor.ge: "DOTAREM", Vendor.philips: "Gadobutrol"}


def naming(vendor: Vendor, role: Role, plane: Plane) -> Naming:
    """Description and sequence tags of ``role`` as ``vendor`` writes them."""
    p = _PLANE_SHORT[vendor][plane]
    if vendor is Vendor.siemens:
        table = {
            Role.localizer: Naming("localizer", "GR", "SP\\OSP", "", "*fl2d1", ("NORM",)),
            Role.t1: Naming(f"t1_tse_{p}", "SE", "SK\\SP\\OSP", "", "*tse2d1_3", ("NORM",)),
            Role.t1_second: Naming(f"t1_tse_{p}", "SE", "SK\\SP\\OSP", "", "*tse2d1_3", ("NORM",)),
            Role.stir: Naming(f"t2_tse_stir_{p}", "SE\\IR", "SK\\SP\\MP\\OSP", "IR", "*tir2d1_15", ("NORM",)),
            Role.t2_fs: Naming(f"t2_tse_fs_{p}", "SE", "SK\\SP\\OSP", "FS", "*tse2d1_15", ("NORM",)),
            Role.t1_fs_post: Naming(f"t1_fl2d_fs_{p}_KM", "GR", "SP\\OSP", "FS", "*fl2d1", ("NORM",)),
            Role.derived: Naming(f"t1_fl2d_fs_{p}_KM_MPR", "GR", "SP\\OSP", "FS", "*fl2d1", ("MPR",)),
            Role.unnamed: Naming("", "SE", "SK\\SP\\OSP", "", "*tse2d1_7", ("NORM",)),
        }
    elif vendor is Vendor.ge:
        table = {
            Role.localizer: Naming("3-Plane Loc", "GR", "SS\\SP", "FAST_GEMS", "fgre", ("LOCALIZER",)),
            Role.t1: Naming(f"{p} T1 FSE", "SE", "SK", "FAST_GEMS\\FILTERED_GEMS", "fse", ()),
            Role.t1_second: Naming(f"{p} T1 FSE", "SE", "SK", "FAST_GEMS\\FILTERED_GEMS", "fse", ()),
            Role.stir: Naming(f"{p} STIR", "SE\\IR", "SK\\MP", "IR_GEMS\\FAST_GEMS", "fse-ir", ()),
            Role.t2_fs: Naming(f"{p} T2 FS", "SE", "SK", "FAST_GEMS\\FS", "fse", ()),
            Role.t1_fs_post: Naming(f"{p} T1 FS +C", "SE", "SK", "FAST_GEMS\\FS", "fse", ()),
            Role.derived: Naming(f"{p} Reformat T1 FS +C", "SE", "SK", "FS", "fse", ("REFORMATTED",)),
            Role.unnamed: Naming("", "SE", "SK", "FAST_GEMS", "fse", ()),
        }
    else:
        table = {
            Role.localizer: Naming("Survey", "GR", "SP", "", "FFE", ("M_FFE", "M", "FFE")),
            Role.t1: Naming(f"T1W_TSE_{p}", "SE", "SK", "", "TSE", ("M_SE", "M", "SE")),
            Role.t1_second: Naming(f"T1W_TSE_{p}", "SE", "SK", "", "TSE", ("M_SE", "M", "SE")),
            Role.stir: Naming(f"STIR_{p}", "SE\\IR", "SK\\MP", "IR", "TSE", ("M_IR", "M", "IR")),
            Role.t2_fs: Naming(f"T2W_SPIR_{p}", "SE", "SK", "FS", "TSE", ("M_SE", "M", "SE")),
            Role.t1_fs_post: Naming(f"T1W_SPIR_{p}_GD", "SE", "SK", "FS", "TSE", ("M_SE", "M", "SE")),
            Role.derived: Naming(f"T1W_SPIR_GD_MPR_{p}", "SE", "SK", "FS", "TSE", ("M_SE", "M", "SE")),
            Role.unnamed: Naming("", "SE", "SK", "", "TSE", ("M_SE", "M", "SE")),
        }
    return table[role]


def series_number(vendor: Vendor, index: int) -> int:
    """1-based position in the exam → SeriesNumber as the vendor numbers it."""
    return index * 100 + 1 if vendor is Vendor.philips else index


MISLEADING = (
    "t1_empty",  # the T1 series has no description
    "stir_as_t1",  # the STIR series is called T1
    "post_unmarked",  # the post-contrast series looks like a plain T1 by name
    "t1_as_t2",  # the T1 series is called T2
)
