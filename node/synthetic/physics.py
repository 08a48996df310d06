"""Tissue relaxation and the signal equations of the series a sarcoma MRI protocol holds.

Relaxation times follow SYNTHETIC.md (1.5 T / 3 T, ms): fat T1 260/380, T2 80; muscle T1
1000/1400, T2 35-45; fluid T1 2500-3500, T2 > 500; fibrous septa T1 ~800, T2 ~40; cortical
bone ~ no signal; marrow fatty. Signal equations (Haacke et al., *Magnetic Resonance Imaging:
Physical Principles and Sequence Design*, ch. 15-18):

- spin echo: S = PD (1 - e^(-TR/T1)) e^(-TE/T2)
- inversion recovery (STIR, magnitude): S = PD |1 - 2 e^(-TI/T1) + e^(-TR/T1)| e^(-TE/T2);
  TI = T1_fat ln 2 nulls fat
- spoiled gradient echo (localizer, 2D FLASH post-contrast):
  S = PD sin(a) (1 - E1) / (1 - cos(a) E1) e^(-TE/T2*), E1 = e^(-TR/T1)
- spectral fat saturation: the fat signal is scaled by (1 - efficiency); efficiency varies in
  space with B0 inhomogeneity (handled by the caller).
- gadolinium: 1/T1' = 1/T1 + r1 C, r1 ~ 4 /s/mM (gadoterate), C the tissue's uptake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from node.synthetic.enums import Tissue

R1_PER_MM_S = 4.0e-3  # r1 relaxivity per ms: 4 /s/mM


@dataclass(frozen=True)
class TissueProps:
    """Proton density (relative), T1 at 1.5 T and 3 T, T2 (ms), fat or water, Gd uptake (mM)."""

    pd: float
    t1_15: float
    t1_3: float
    t2: float
    fat: bool = False
    gd: float = 0.0

    def t1(self, field_t: float) -> float:
        return self.t1_15 if field_t < 2.0 else self.t1_3


TISSUES: dict[Tissue, TissueProps] = {
    Tissue.air: TissueProps(0.0, 1000, 1000, 1),
    Tissue.skin: TissueProps(0.70, 850, 1100, 45, gd=0.15),
    Tissue.subcut_fat: TissueProps(0.95, 260, 380, 80, fat=True),
    Tissue.fascia: TissueProps(0.55, 800, 1050, 40, gd=0.05),
    Tissue.muscle: TissueProps(0.80, 1000, 1400, 40, gd=0.08),
    Tissue.im_fat: TissueProps(0.95, 260, 380, 80, fat=True),
    Tissue.cortex: TissueProps(0.05, 1000, 1200, 1),
    Tissue.marrow: TissueProps(0.90, 300, 420, 75, fat=True),
    Tissue.vessel: TissueProps(0.0, 1600, 1900, 250, gd=3.0),  # flow void on SE
    Tissue.viscera: TissueProps(0.80, 700, 950, 55, gd=0.35),
    Tissue.fluid: TissueProps(1.00, 3000, 3400, 600),
    Tissue.tumour_fat: TissueProps(0.95, 270, 390, 85, fat=True),
    Tissue.septum: TissueProps(0.60, 800, 1050, 40, gd=0.30),
    Tissue.capsule: TissueProps(0.55, 800, 1050, 38, gd=0.15),
    Tissue.nodule: TissueProps(0.85, 1100, 1450, 75, gd=0.45),
}


class Sequence(StrEnum):
    spin_echo = "SE"
    inversion_recovery = "IR"
    gradient_echo = "GR"


@dataclass(frozen=True)
class Protocol:
    """Timing of one series; ``fat_sat`` is spectral saturation, ``contrast`` the Gd dose state."""

    sequence: Sequence
    tr: float
    te: float
    ti: float | None = None
    flip_deg: float = 90.0
    fat_sat: bool = False
    contrast: bool = False
    echo_train: int = 1
    three_d: bool = False  # MRAcquisitionType 3D (MP-RAGE, VIBE/LAVA/THRIVE-like slabs)


def tissue_signal(props: TissueProps, proto: Protocol, field_t: float,
                  t1_scale: float = 1.0) -> float:
    """Noise-free magnitude signal of one tissue (before fat saturation)."""
    if props.pd == 0.0:
        return 0.0
    t1 = props.t1(field_t) * t1_scale
    if proto.contrast and props.gd > 0:
        t1 = 1.0 / (1.0 / t1 + R1_PER_MM_S * props.gd)
    e2 = np.exp(-proto.te / props.t2)
    e1 = np.exp(-proto.tr / t1)
    if proto.sequence is Sequence.spin_echo:
        s = (1 - e1) * e2
    elif proto.sequence is Sequence.inversion_recovery:
        ti = proto.ti if proto.ti is not None else 0.0
        s = abs(1 - 2 * np.exp(-ti / t1) + e1) * e2
    else:
        a = np.deg2rad(proto.flip_deg)
        s = np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1) * e2
    return float(props.pd * s)


def signal_table(proto: Protocol, field_t: float, tumour_fat_t1_scale: float = 1.0,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per-tissue signal and a 0/1 vector marking fat tissues (for spatially varying fat-sat)."""
    sig = np.zeros(len(Tissue), dtype=np.float32)
    fat = np.zeros(len(Tissue), dtype=np.float32)
    for t, props in TISSUES.items():
        scale = tumour_fat_t1_scale if t is Tissue.tumour_fat else 1.0
        sig[t] = tissue_signal(props, proto, field_t, scale)
        fat[t] = 1.0 if props.fat else 0.0
    return sig, fat


def stir_null_ti(field_t: float) -> float:
    """Inversion time that nulls fat: TI = T1_fat ln 2."""
    return float(TISSUES[Tissue.subcut_fat].t1(field_t) * np.log(2.0))
