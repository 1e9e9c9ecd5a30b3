"""Region overlap: boxes against pycocotools, rotated rectangles, polygons, keypoints, masks, brush RLE."""

import numpy as np
import pytest
import shapely
import shapely.affinity
from label_studio_sdk.converter.brush import mask2rle
from pycocotools import mask as mask_utils

from plugin.metrics import (
    batched_box_iou,
    box_iou_matrix,
    decode_brush_mask,
    keypoint_similarity_matrix,
    mask_iou_matrix,
    polygon_iou_matrix,
    rectangle_corners,
)


def _random_boxes(rng, n):
    return np.column_stack([rng.uniform(0, 80, (n, 2)), rng.uniform(0.5, 30, (n, 2))])


@pytest.mark.parametrize("seed", range(10))
def test_box_iou_matrix_equals_pycocotools(seed):
    rng = np.random.default_rng(seed)
    a, b = _random_boxes(rng, 12), _random_boxes(rng, 9)
    expected = np.asarray(mask_utils.iou(b.tolist(), a.tolist(), [0] * len(a))).T
    np.testing.assert_allclose(box_iou_matrix(a, b), expected, atol=1e-9)


def test_box_iou_edge_cases():
    assert box_iou_matrix([[0, 0, 1, 1]], [[1, 0, 1, 1]]).item() == 0.0  # touching
    assert box_iou_matrix([[0, 0, 1, 1]], [[0, 0, 1, 1]]).item() == 1.0
    assert box_iou_matrix([[0, 0, 0, 0]], [[0, 0, 0, 0]]).item() == 0.0  # zero area
    assert box_iou_matrix(np.empty((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_box_iou_is_invariant_to_scaling_each_axis():
    rng = np.random.default_rng(3)
    a, b = _random_boxes(rng, 5), _random_boxes(rng, 6)
    scale = np.array([3.0, 0.5, 3.0, 0.5])
    np.testing.assert_allclose(box_iou_matrix(a * scale, b * scale), box_iou_matrix(a, b), atol=1e-12)


def test_batched_box_iou_equals_per_frame_and_pads_with_zero():
    rng = np.random.default_rng(4)
    a, b = _random_boxes(rng, 30).reshape(5, 6, 4), _random_boxes(rng, 20).reshape(5, 4, 4)
    b[2, 3] = np.nan
    batched = batched_box_iou(a, b)
    for f in range(5):
        np.testing.assert_allclose(batched[f], np.nan_to_num(box_iou_matrix(a[f], b[f])), atol=1e-12)
    assert (batched[2, :, 3] == 0).all()


def test_rectangle_corners_turn_clockwise_about_top_left():
    corners = rectangle_corners([[10, 20, 4, 2]], 90)[0]
    np.testing.assert_allclose(corners, [[10, 20], [10, 24], [8, 24], [8, 20]], atol=1e-12)
    unrotated = rectangle_corners([[1, 2, 3, 4]])[0]
    np.testing.assert_allclose(unrotated, [[1, 2], [4, 2], [4, 6], [1, 6]])


def test_unrotated_polygon_iou_equals_box_iou():
    rng = np.random.default_rng(5)
    a, b = _random_boxes(rng, 6), _random_boxes(rng, 7)
    polygons = [shapely.polygons(rectangle_corners(x)) for x in (a, b)]
    np.testing.assert_allclose(polygon_iou_matrix(*polygons), box_iou_matrix(a, b), atol=1e-9)


def test_rotation_changes_overlap_as_geometry_says():
    square = shapely.polygons(rectangle_corners([[0, 0, 2, 2]]))
    turned = shapely.polygons(rectangle_corners([[0, 0, 2, 2]], 90))  # occupies x in [-2, 0]
    assert polygon_iou_matrix(square, turned).item() == pytest.approx(0.0)
    for angle in (30.0, 45.0, 200.0):
        rotated = shapely.polygons(rectangle_corners([[5, 7, 4, 3]], angle))
        # In y-down image coordinates shapely's counter-clockwise rotation is a clockwise turn on screen.
        expected = shapely.affinity.rotate(shapely.box(5, 7, 9, 10), angle, origin=(5, 7))
        assert polygon_iou_matrix(rotated, [expected]).item() == pytest.approx(1.0)


def test_polygon_iou_repairs_bow_tie_and_handles_empty():
    bow_tie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    square = shapely.box(0, 0, 2, 2)
    assert polygon_iou_matrix([bow_tie], [square]).item() == pytest.approx(0.5)
    assert polygon_iou_matrix([shapely.Polygon()], [square]).item() == 0.0


def test_keypoint_similarity():
    sim = keypoint_similarity_matrix([[0, 0], [10, 0]], [[0, 0], [3, 4]], sigma=5.0)
    np.testing.assert_allclose(sim[0], [1.0, np.exp(-0.5)])
    np.testing.assert_allclose(
        sim, keypoint_similarity_matrix([[0, 0], [10, 0]], [[0, 0], [3, 4]], sigma=5.0)
    )
    np.testing.assert_allclose(keypoint_similarity_matrix([[3, 4]], [[0, 0]], sigma=5.0), sim[:1, 1:].T)


@pytest.mark.parametrize("seed", range(5))
def test_mask_iou_equals_pycocotools(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((3, 20, 30)) < 0.3
    b = rng.random((4, 20, 30)) < 0.3
    encode = lambda masks: mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))  # noqa: E731
    expected = np.asarray(mask_utils.iou(encode(b), encode(a), [0] * len(a))).T
    np.testing.assert_allclose(mask_iou_matrix(a, b), expected, atol=1e-9)
    assert mask_iou_matrix(np.zeros((1, 2, 2), bool), np.zeros((1, 2, 2), bool)).item() == 0.0


def test_brush_rle_round_trip_with_label_studio_encoder():
    rng = np.random.default_rng(0)
    mask = (rng.random((17, 23)) < 0.4).astype(np.uint8) * 255
    decoded = decode_brush_mask(mask2rle(mask), width=23, height=17)
    assert decoded.shape == (17, 23)
    assert (decoded == (mask > 0)).all()
    with pytest.raises(ValueError):
        decode_brush_mask(mask2rle(mask), width=10, height=10)
