"""Label Studio brush masks: decode the ``BrushLabels`` RLE into boolean masks."""

from __future__ import annotations

from collections.abc import Sequence

from numpy.typing import NDArray


def decode_brush_mask(rle: Sequence[int], *, width: int, height: int) -> NDArray:
    """Decode one Label Studio brush RLE into a boolean ``(height, width)`` mask.

    Label Studio encodes the RGBA pixels of the brush layer with its own bit-packed run-length
    code (``value.rle`` of a ``brushlabels`` result); a pixel belongs to the mask when its alpha
    channel is non-zero. Decoding uses ``label_studio_sdk.converter.brush.decode_rle``, the
    reference implementation of that format.

    Parameters
    ----------
    rle : sequence of int
        The ``rle`` list of the result's ``value``.
    width, height : int
        ``original_width`` and ``original_height`` of the result.

    Returns
    -------
    ndarray of bool, shape (height, width)

    Examples
    --------
    >>> import numpy as np
    >>> from label_studio_sdk.converter.brush import mask2rle
    >>> mask = np.zeros((2, 3), dtype=np.uint8)
    >>> mask[0, 1] = 255
    >>> decode_brush_mask(mask2rle(mask), width=3, height=2).astype(int).tolist()
    [[0, 1, 0], [0, 0, 0]]
    """
    # Imported here: the converter package pulls in image libraries that only brushes need.
    from label_studio_sdk.converter.brush import decode_rle

    pixels = decode_rle(list(rle))
    if pixels.size != width * height * 4:
        raise ValueError(f"RLE holds {pixels.size} values, expected {width} × {height} × 4 (RGBA)")
    return pixels.reshape(height, width, 4)[:, :, 3] > 0
