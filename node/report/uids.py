"""Deterministic UIDs: same inputs → same SEG/SR UIDs, so a resend is idempotent.

pydicom ``generate_uid(entropy_srcs=...)`` hashes its sources (SHA-512) under the pydicom
root; the result is a valid UID (PS3.5 9.1) that only changes when an input changes:
source series, model versions, template version, mask digest and the reported values. An
amended result differs in its mask or values (and carries the UIDs it supersedes), so it
gets new UIDs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from pydicom.uid import generate_uid

from node.report.inputs import ReportInputs


def mask_digest(mask: np.ndarray) -> str:
    """SHA-256 over shape + packed bits: independent of dtype (bool vs uint8)."""
    m = np.ascontiguousarray(mask.astype(bool))
    h = hashlib.sha256(repr(m.shape).encode())
    h.update(np.packbits(m, axis=None).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class ResultUids:
    seg_series: str
    seg_instance: str
    sr_series: str
    sr_instance: str
    tracking: str  # the segment's tracking UID, shared by the SEG and the SR that measures it
    key_image_series: str
    key_image_instance: str


def result_uids(source_series_uid: str, mask: np.ndarray, info: ReportInputs,
                template_version: str) -> ResultUids:
    base = [
        source_series_uid,
        json.dumps(dict(sorted(info.model_versions.items()))),
        template_version,
        mask_digest(mask),
    ]
    values = info.model_dump_json(exclude={"model_versions"})

    def uid(kind: str, with_values: bool) -> str:
        return str(generate_uid(entropy_srcs=[*base, *([values] if with_values else []), kind]))

    # the SEG depends on the mask (+ amendment), the SR also on every reported value
    seg_extra = info.amended_from.seg_uid if info.amended_from else ""
    seg_instance = uid("seg-instance" + seg_extra, False)
    return ResultUids(
        seg_series=uid("seg-series" + seg_extra, False),
        seg_instance=seg_instance,
        sr_series=uid("sr-series", True),
        sr_instance=uid("sr-instance", True),
        tracking=str(generate_uid(entropy_srcs=[seg_instance, "tracking"])),
        key_image_series=uid("key-image-series", True),
        key_image_instance=uid("key-image-instance", True),
    )
