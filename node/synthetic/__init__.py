"""Synthetic digital twin (SYNTHETIC.md): physics-based MR studies and the paper's four cohorts.

Public API:

- ``generate_cohort(profile, n, out_dir, seed=0, dicom=False) -> Path`` (labels.csv)
- ``generate_study(out_dir, spec=None, *, seed=None) -> StudyResult`` with ``StudySpec``
- ``draw_case(profile, seed, **pinned) -> CaseDraw`` (clinical variables without rendering)
- ``PROFILES`` / ``get_profile(name)``
"""

from node.synthetic.cohort import GENERATOR_VERSION, generate_cohort
from node.synthetic.draws import CaseDraw, draw_case
from node.synthetic.profiles import PROFILES, Profile, get_profile
from node.synthetic.study import SeriesInfo, StudyResult, StudySpec, generate_study

__all__ = [
    "GENERATOR_VERSION",
    "PROFILES",
    "CaseDraw",
    "Profile",
    "SeriesInfo",
    "StudyResult",
    "StudySpec",
    "draw_case",
    "generate_cohort",
    "generate_study",
    "get_profile",
]
