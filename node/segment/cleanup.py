"""Anatomical clean-up of an automatic mask: drop pieces that lie along the skin.

On studies it was not made from, the bundled model marks strips of subcutaneous fat as tumour
next to (or instead of) the real tumour (issue 14). Such a strip is a separate component that
lies against the skin over a wide area; a tumour, even a superficial one, touches the skin only
where it bulges. Components whose skin contact (node.qc.anatomy) exceeds ``max_skin_contact``
are removed as long as another component remains: a mask is never emptied here, so a case whose
only component is such a strip still reaches QC (and review) as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


def drop_skin_strips(mask: np.ndarray, image: np.ndarray, spacing_zyx: Sequence[float],
                     max_skin_contact: float = 0.25, skin_mm: float = 3.0) -> np.ndarray:
    """``mask`` without its skin-hugging components (uint8, same shape)."""
    from node.qc.anatomy import body_mask, skin_contact

    fg = mask.astype(bool)
    labels, n = ndimage.label(fg, structure=np.ones((3, 3, 3), bool))
    if n < 2:
        return mask.astype(np.uint8)
    body = body_mask(image.astype(np.float32)) | fg
    depth = ndimage.distance_transform_edt(body, sampling=spacing_zyx)
    keep = np.zeros(n + 1, bool)
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        comp = labels[sl] == i
        keep[i] = skin_contact(comp, depth[sl], spacing_zyx, skin_mm) <= max_skin_contact
    if not keep[1:].any():
        return mask.astype(np.uint8)
    return keep[labels].astype(np.uint8)
