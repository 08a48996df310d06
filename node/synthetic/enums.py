"""Enumerated values of the synthetic twin (SYNTHETIC.md): one place, plain strings accepted on entry."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from node.vocab import Label as Label  # the shared vocabulary; named here with the twin's other enums


class Location(StrEnum):
    """Tumour site; ``thigh`` stands for the lower extremity, ``arm`` for the upper (Table 1)."""

    thigh = "thigh"
    arm = "arm"
    trunk = "trunk"
    head_neck = "head_neck"
    pelvis = "pelvis"


class Depth(StrEnum):
    """Relative to the deep (investing) fascia."""

    superficial = "superficial"
    deep = "deep"


class Sex(StrEnum):
    M = "M"
    F = "F"


class Vendor(StrEnum):
    siemens = "siemens"
    ge = "ge"
    philips = "philips"


class Plane(StrEnum):
    """Acquisition plane of a series (the slice normal is L-R, P-A or S-I in LPS)."""

    axial = "axial"
    coronal = "coronal"
    sagittal = "sagittal"


class QcCase(StrEnum):
    """Deliberately defective studies for the segmentation QC tests."""

    normal = "normal"
    fov_cut = "fov_cut"          # tumour runs out of the slab of the T1 series
    no_tumour = "no_tumour"      # limb without a mass
    two_tumours = "two_tumours"  # a second, separate fatty mass
    superficial = "superficial"  # forced superficial tumour inside subcutaneous fat


class Tissue(IntEnum):
    """Tissue classes of the phantom; the integer is the index into the fraction maps."""

    air = 0
    skin = 1
    subcut_fat = 2
    fascia = 3
    muscle = 4
    im_fat = 5        # intramuscular fat streaks
    cortex = 6
    marrow = 7
    vessel = 8
    viscera = 9
    fluid = 10        # bladder, joint effusion
    tumour_fat = 11
    septum = 12
    capsule = 13
    nodule = 14       # non-fatty (nodular/globular) component of ALT


TUMOUR_TISSUES = (Tissue.tumour_fat, Tissue.septum, Tissue.capsule, Tissue.nodule)
