"""Overlap between regions: boxes, rotated rectangles, polygons, keypoints and masks.

Every function returns a similarity matrix (rows: first set, columns: second set) with values in
[0, 1], ready for one-to-one matching (:mod:`plugin.metrics.matching`).
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray


def _iou_xywh(a: NDArray, b: NDArray) -> NDArray:
    """IoU of broadcastable ``(..., 4)`` ``x, y, width, height`` arrays; NaN or empty boxes give 0."""
    ax, ay, aw, ah = np.moveaxis(a, -1, 0)
    bx, by, bw, bh = np.moveaxis(b, -1, 0)
    inter_w = np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx)
    inter_h = np.minimum(ay + ah, by + bh) - np.maximum(ay, by)
    inter = np.maximum(inter_w, 0.0) * np.maximum(inter_h, 0.0)
    union = aw * ah + bw * bh - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def box_iou_matrix(a: ArrayLike, b: ArrayLike) -> NDArray:
    r"""Intersection over union of every box in ``a`` with every box in ``b``.

    .. math::

        \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}

    Parameters
    ----------
    a : array-like of shape (n, 4)
        Axis-aligned boxes as ``x, y, width, height`` (top-left corner), any unit.
    b : array-like of shape (m, 4)
        Boxes in the same unit.

    Returns
    -------
    ndarray of shape (n, m)
        IoU in [0, 1]. Disjoint boxes give 0; a pair whose union has zero area gives 0.

    Notes
    -----
    Equal to ``pycocotools.mask.iou(b_list, a_list, [0] * m).T`` for boxes of positive area.
    IoU of axis-aligned boxes is invariant to scaling each axis, so Label Studio's percentages of
    the image size can be used as they are; rotated rectangles need pixels
    (:func:`rectangle_corners`).

    Examples
    --------
    >>> box_iou_matrix([[0, 0, 2, 2]], [[1, 0, 2, 2], [5, 5, 1, 1]]).round(3).tolist()
    [[0.333, 0.0]]
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    return _iou_xywh(a[:, None, :], b[None, :, :])


def batched_box_iou(a: ArrayLike, b: ArrayLike) -> NDArray:
    """IoU of boxes frame by frame: ``(f, n, 4)`` against ``(f, m, 4)`` gives ``(f, n, m)``.

    Padding rows filled with NaN (frames with fewer boxes) get IoU 0 with everything.

    Examples
    --------
    >>> batched_box_iou([[[0, 0, 1, 1]]], [[[0, 0, 1, 1], [9, 9, 1, 1]]]).tolist()
    [[[1.0, 0.0]]]
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return _iou_xywh(a[:, :, None, :], b[:, None, :, :])


def rectangle_corners(boxes: ArrayLike, rotation: ArrayLike = 0.0) -> NDArray:
    """Corners of rectangles rotated clockwise (in degrees) about their top-left corner.

    This is Label Studio's convention for ``RectangleLabels``: ``x, y`` is the top-left corner
    before rotation and the rectangle turns about it, with y pointing down. Use pixel coordinates:
    the rotation is only rigid in a unit where both axes have the same scale.

    Parameters
    ----------
    boxes : array-like of shape (n, 4)
        ``x, y, width, height``.
    rotation : float or array-like of shape (n,)
        Clockwise rotation in degrees.

    Returns
    -------
    ndarray of shape (n, 4, 2)
        Corners in drawing order: top-left, top-right, bottom-right, bottom-left.

    Examples
    --------
    >>> rectangle_corners([[0, 0, 2, 1]], 90).round(6).tolist()
    [[[0.0, 0.0], [0.0, 2.0], [-1.0, 2.0], [-1.0, 0.0]]]
    """
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    theta = np.deg2rad(np.broadcast_to(np.asarray(rotation, dtype=float), boxes.shape[:1]))
    cos, sin = np.cos(theta), np.sin(theta)
    x, y, w, h = boxes.T
    dx = np.stack([np.zeros_like(w), w, w, np.zeros_like(w)], axis=1)
    dy = np.stack([np.zeros_like(h), np.zeros_like(h), h, h], axis=1)
    px = x[:, None] + dx * cos[:, None] - dy * sin[:, None]
    py = y[:, None] + dx * sin[:, None] + dy * cos[:, None]
    return np.stack([px, py], axis=-1)


def polygon_iou_matrix(a: ArrayLike, b: ArrayLike) -> NDArray:
    """IoU of every polygon in ``a`` with every polygon in ``b`` (shapely geometries).

    Self-intersecting polygons are repaired with ``shapely.make_valid`` before measuring, so a
    bow-tie counts as its two triangles. Empty or degenerate polygons give IoU 0.

    Parameters
    ----------
    a, b : array-like of shapely geometries, shapes (n,) and (m,)

    Returns
    -------
    ndarray of shape (n, m)

    Examples
    --------
    >>> import shapely
    >>> square = shapely.box(0, 0, 2, 2)
    >>> polygon_iou_matrix([square], [shapely.box(1, 0, 3, 2)]).round(3).tolist()
    [[0.333]]
    """
    shapes_a = shapely.make_valid(np.asarray(a, dtype=object))
    shapes_b = shapely.make_valid(np.asarray(b, dtype=object))
    inter = shapely.area(shapely.intersection(shapes_a[:, None], shapes_b[None, :]))
    union = shapely.area(shapes_a)[:, None] + shapely.area(shapes_b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def keypoint_similarity_matrix(a: ArrayLike, b: ArrayLike, *, sigma: float) -> NDArray:
    r"""OKS-style similarity of every point in ``a`` with every point in ``b``.

    .. math::

        s(p, q) = \exp\left(-\frac{\lVert p - q \rVert^2}{2 \sigma^2}\right)

    Parameters
    ----------
    a, b : array-like of shapes (n, 2) and (m, 2)
        Point coordinates in one unit (pixels).
    sigma : float
        Distance scale, in the same unit: a point ``sigma`` away scores ``exp(-1/2) ≈ 0.61``.

    Examples
    --------
    >>> keypoint_similarity_matrix([[0, 0]], [[0, 0], [3, 4]], sigma=5.0).round(3).tolist()
    [[1.0, 0.607]]
    """
    a = np.asarray(a, dtype=float).reshape(-1, 2)
    b = np.asarray(b, dtype=float).reshape(-1, 2)
    squared = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    return np.exp(-squared / (2.0 * sigma**2))


def mask_iou_matrix(a: ArrayLike, b: ArrayLike) -> NDArray:
    """IoU of boolean masks: ``(n, ...)`` against ``(m, ...)`` of the same image size.

    Two empty masks give IoU 0 (there is nothing to overlap).

    Examples
    --------
    >>> import numpy as np
    >>> left = np.array([[1, 1, 0, 0]], dtype=bool)
    >>> mask_iou_matrix([left], [np.array([[0, 1, 1, 0]], dtype=bool)]).round(3).tolist()
    [[0.333]]
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    flat_a = a.reshape(len(a), -1).astype(np.float64)
    flat_b = b.reshape(len(b), -1).astype(np.float64)
    inter = flat_a @ flat_b.T
    union = flat_a.sum(axis=1)[:, None] + flat_b.sum(axis=1)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)
