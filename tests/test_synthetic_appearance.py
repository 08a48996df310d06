"""The twin's label-overlapping tumour appearance (issue 16): overlap, on its own random stream."""

from __future__ import annotations

import numpy as np
import pytest

from node.synthetic import tumour as tm
from node.synthetic.anatomy import build_phantom
from node.synthetic.draws import draw_case
from node.synthetic.enums import Label
from node.synthetic.profiles import PROFILES

SEEDS = range(60)


def _tumours(label: str) -> list[tm.Tumour]:
    return [build_phantom(draw_case(PROFILES["prospective"], s, label=label)).tumours[0]
            for s in SEEDS]


def test_lipomas_and_alts_overlap_in_nodules_septa_and_fat_signal() -> None:
    lip, alt = _tumours(Label.LIPOMA.value), _tumours(Label.ALT.value)
    with_foci = [t for t in lip if t.nodules]
    assert 0.3 < len(with_foci) / len(lip) < 0.7            # lipomas with non-fatty foci
    assert all(tm.FOCI_SOLID[0] <= t.nodule_solid <= tm.FOCI_SOLID[1] for t in with_foci)
    hazy = [t for t in alt if t.nodule_solid < 1.0]
    assert 0.6 < len(hazy) / len(alt) < 0.9                  # ALTs with partly fatty nodules
    # septa: the thickest lipoma septa exceed the thinnest ALT septa
    lip_max = max(max((sp.thickness for sp in t.septa), default=0) for t in lip)
    alt_min = min(min((sp.thickness for sp in t.septa), default=9) for t in alt)
    assert lip_max > alt_min
    # one fat T1 range for both labels: no offset a first-order feature could pick up
    fl = np.array([t.fat_t1_scale for t in lip])
    fa = np.array([t.fat_t1_scale for t in alt])
    assert abs(fl.mean() - fa.mean()) < 0.02 and fl.min() >= 0.97 and fa.max() <= 1.10


def test_appearance_leaves_the_tumour_geometry_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    with_app = [build_phantom(draw_case(PROFILES["train"], s)) for s in range(12)]
    for name in ("LIPOMA_FOCI_SHARE", "LIPOMA_THICK_SEPTA_SHARE", "ALT_HAZY_SHARE",
                 "ALT_THIN_SEPTA_SHARE"):
        monkeypatch.setattr(tm, name, 0.0)
    plain = [build_phantom(draw_case(PROFILES["train"], s)) for s in range(12)]
    for a, b in zip(with_app, plain, strict=True):
        assert a.body == b.body and len(a.tumours) == len(b.tumours)
        for ta, tb in zip(a.tumours, b.tumours, strict=True):
            for f in ("centre", "semi", "angles_deg", "lobes", "capsule_mm", "superficial",
                      "cover_mm"):
                assert getattr(ta, f) == getattr(tb, f), f
            assert tb.nodule_solid == 1.0
            pts = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32) * 30 \
                + np.asarray(ta.centre, np.float32)
            assert np.array_equal(ta.ray_distance(pts), tb.ray_distance(pts))


def test_hazy_nodules_mix_fat_into_the_nodule_deterministically() -> None:
    v = np.random.default_rng(1).uniform(-5, 5, size=(20000, 3)).astype(np.float32)
    a, b = tm._speckle(v), tm._speckle(v.copy())
    assert np.array_equal(a, b) and 0.45 < a.mean() < 0.55 and a.min() >= 0 and a.max() < 1
