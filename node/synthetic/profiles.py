"""The four cohort profiles: Table 1 of Spaanderman et al. 2024 (eClinicalMedicine) as targets.

Per profile: ALT share (MDM2+), sex, mean age, depth, location shares, and per label the
median (IQR) of the 2D axial diameter (mm) and of the volume (cl). Acquisition mixes give the
domain shift SYNTHETIC.md asks for (vendor mix, 3 T share, slice thickness, Enhanced MR share).
``overlap`` sets how many lipomas look atypical (septa, lower fat) and how many ALTs look like
plain fat: it is what keeps a fat-fraction + volume baseline well below AUC 1.0.

Table 1's depth row for Cohort 3 is garbled in the source text; SYNTHETIC.md says external_b has
"more superficial tumours", so it gets 30 % superficial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.synthetic.enums import Label, Location, Vendor


@dataclass(frozen=True)
class SizeTarget:
    """Median and interquartile range, as Table 1 reports them."""

    median: float
    q1: float
    q3: float


@dataclass(frozen=True)
class Profile:
    name: str
    n: int
    alt_share: float
    male_share: float
    age_mean: float
    superficial_share: float
    locations: dict[Location, float]
    diameter_mm: dict[Label, SizeTarget]
    volume_cl: dict[Label, SizeTarget]
    vendors: dict[Vendor, float]
    share_3t: float
    thickness_mm: tuple[float, float]
    pixel_mm: tuple[float, float]
    enhanced_share: float
    overlap: float  # 0..1: share of lipomas that look atypical, scaled for ALT lookalikes
    misleading_share: float = 0.10
    coronal_share: float = 0.25
    extra: dict[str, float] = field(default_factory=dict)


def _loc(ue: float, le: float, tr: float, hn: float, pe: float) -> dict[Location, float]:
    return {Location.arm: ue, Location.thigh: le, Location.trunk: tr, Location.head_neck: hn,
            Location.pelvis: pe}


PROFILES: dict[str, Profile] = {
    "train": Profile(
        name="train", n=116, alt_share=0.50, male_share=0.59, age_mean=61,
        superficial_share=0.16, locations=_loc(0.13, 0.52, 0.28, 0.05, 0.03),
        diameter_mm={Label.ALT: SizeTarget(97.6, 75.4, 141.9),
                     Label.LIPOMA: SizeTarget(58.3, 43.4, 85.5)},
        volume_cl={Label.ALT: SizeTarget(43.0, 28.4, 88.2),
                   Label.LIPOMA: SizeTarget(15.4, 5.9, 29.0)},
        vendors={Vendor.siemens: 0.45, Vendor.ge: 0.20, Vendor.philips: 0.35},
        share_3t=0.2, thickness_mm=(4.0, 6.0), pixel_mm=(0.9, 1.5), enhanced_share=0.1,
        overlap=0.22,
    ),
    "external_a": Profile(
        name="external_a", n=150, alt_share=0.51, male_share=0.47, age_mean=58,
        superficial_share=0.19, locations=_loc(0.13, 0.63, 0.11, 0.08, 0.05),
        diameter_mm={Label.ALT: SizeTarget(92.7, 63.1, 140.3),
                     Label.LIPOMA: SizeTarget(69.8, 45.9, 90.5)},
        volume_cl={Label.ALT: SizeTarget(45.3, 19.7, 122.9),
                   Label.LIPOMA: SizeTarget(22.9, 6.4, 56.8)},
        vendors={Vendor.ge: 0.55, Vendor.siemens: 0.30, Vendor.philips: 0.15},
        share_3t=0.4, thickness_mm=(3.0, 4.5), pixel_mm=(0.8, 1.2), enhanced_share=0.15,
        overlap=0.32,
    ),
    "external_b": Profile(
        name="external_b", n=208, alt_share=0.37, male_share=0.53, age_mean=59,
        superficial_share=0.30, locations=_loc(0.25, 0.46, 0.26, 0.03, 0.0),
        diameter_mm={Label.ALT: SizeTarget(102.8, 67.1, 169.0),
                     Label.LIPOMA: SizeTarget(67.1, 49.7, 96.7)},
        volume_cl={Label.ALT: SizeTarget(46.7, 27.4, 102.3),
                   Label.LIPOMA: SizeTarget(10.4, 5.7, 20.9)},
        vendors={Vendor.siemens: 0.50, Vendor.philips: 0.35, Vendor.ge: 0.15},
        share_3t=0.7, thickness_mm=(3.5, 5.5), pixel_mm=(0.8, 1.3), enhanced_share=0.2,
        overlap=0.20,
    ),
    "prospective": Profile(
        name="prospective", n=86, alt_share=0.27, male_share=0.50, age_mean=60,
        superficial_share=0.26, locations=_loc(0.16, 0.44, 0.22, 0.13, 0.05),
        diameter_mm={Label.ALT: SizeTarget(82.6, 63.8, 122.6),
                     Label.LIPOMA: SizeTarget(53.3, 37.2, 76.8)},
        volume_cl={Label.ALT: SizeTarget(33.1, 20.3, 67.0),
                   Label.LIPOMA: SizeTarget(9.0, 3.8, 20.7)},
        vendors={Vendor.siemens: 0.60, Vendor.ge: 0.20, Vendor.philips: 0.20},
        share_3t=0.5, thickness_mm=(3.0, 5.0), pixel_mm=(0.8, 1.2), enhanced_share=0.6,
        overlap=0.16,
    ),
}


def get_profile(name: str) -> Profile:
    """The named profile, or ``ValueError`` listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown cohort profile {name!r}; known: {', '.join(PROFILES)}") from None
