"""The tumour outline on its largest source slice: what a viewer draws and a key image burns in.

OHIF (3.x) only hydrates a TID 1500 measurement group that has a 2D SCOORD on one image, and
draws POLYLINE but not POLYGON, so the outline is a closed POLYLINE (last point = first) in
image-relative pixel coordinates: PS3.3 C.18.6.1.1, column\\row with (0, 0) at the top-left
corner of the top-left pixel, i.e. the centre of pixel (r, c) is (c + 0.5, r + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.measure import approximate_polygon, find_contours

from node.errors import ReportError


@dataclass(frozen=True)
class Outline:
    """``frame``: 0-based index into the mask's frames (= the source order of :mod:`.seg`);
    ``points``: (N, 2) float column/row pairs, closed (``points[0] == points[-1]``)."""

    frame: int
    points: np.ndarray
    area_px: int


def largest_frame(mask: np.ndarray) -> int:
    """The frame with the most tumour pixels (ties: the first), where a reader looks first."""
    areas = mask.reshape(mask.shape[0], -1).sum(axis=1)
    if not areas.any():
        raise ReportError("mask is empty: no slice to outline")
    return int(np.argmax(areas))


def outline(mask: np.ndarray, tolerance_px: float = 0.5) -> Outline:
    """Outer contour of the largest connected region on the largest frame.

    ``find_contours`` at level 0.5 on the zero-padded frame traces the boundary between
    inside and outside pixel centres, so the line never leaves the image; the polygon is
    then thinned to ``tolerance_px`` (Douglas-Peucker), which keeps SR size small without
    moving the line by more than half a pixel.
    """
    k = largest_frame(mask)
    frame = np.pad(mask[k].astype(np.uint8), 1)
    contours = find_contours(frame, 0.5)
    if not contours:
        raise ReportError(f"no contour on frame {k}")
    rc = max(contours, key=len) - 1.0  # undo the padding
    rc = approximate_polygon(rc, tolerance=tolerance_px)
    if len(rc) < 4:  # a pixel or two: a small diamond around the region's centre
        r, c = np.argwhere(mask[k]).mean(axis=0)
        rc = np.array([[r - 0.5, c], [r, c + 0.5], [r + 0.5, c], [r, c - 0.5], [r - 0.5, c]])
    if not np.array_equal(rc[0], rc[-1]):
        rc = np.vstack([rc, rc[:1]])
    rows, cols = mask.shape[1:]
    pts = np.stack([rc[:, 1] + 0.5, rc[:, 0] + 0.5], axis=1)
    pts[:, 0] = np.clip(pts[:, 0], 0.0, float(cols))
    pts[:, 1] = np.clip(pts[:, 1], 0.0, float(rows))
    return Outline(frame=k, points=pts.astype(np.float32), area_px=int(mask[k].sum()))
