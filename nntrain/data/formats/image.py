"""Image files (.png, .jpg, ...) for `nntrain predict`: one image is one sample, read with Pillow (the optional
`images` extra). Its pixels are given to the run's stored preprocessing as the training samples were: grey
(height, width) or colour (height, width, channels) as the model's input was trained, or flattened for a model
trained on a table of pixel columns (the bundled digits)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nntrain.data.formats.base import Format, array_input, check_file
from nntrain.errors import DataError


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading image files needs Pillow: pip install 'nntrain[images]' (or give the images as a "
                        ".npy array of shape (n, height, width[, channels]))") from None
    return Image


def read_image(path: Path, channels: int | None) -> np.ndarray:
    """The pixels of one image file: (height, width) grey for channels None or 1, else (height, width, channels)
    converted to RGB (3) or RGBA (4), as uint8."""
    image_module = _pillow()
    path = check_file(path)
    mode = {None: "L", 1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise DataError(f"{path}: the model reads images of {channels} channels; an image file has 1, 3 or 4")
    try:
        with image_module.open(path) as img:
            pixels = np.asarray(img.convert(mode))
    except (OSError, ValueError) as exc:  # Pillow's UnidentifiedImageError is an OSError
        raise DataError(f"{path}: cannot read as an image ({exc})") from None
    return pixels[..., None] if channels == 1 else pixels


class Image(Format):
    """One image file as one sample to predict (training reads image data as .npy/.npz/idx arrays)."""

    name, suffixes = "image", (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

    def stream(self, path, pre, batch_size) -> Iterator[dict]:
        names = list(pre.inputs)
        if len(names) != 1:
            raise DataError(f"{path}: one image cannot feed {len(names)} inputs {names}; use .npz with one array each")
        (name,) = names
        p = pre.inputs[name]
        shape = tuple(p.source.get("sample_shape", ()))
        channels = shape[-1] if p.kind == "array" and len(shape) == 3 else None
        pixels = read_image(path, channels)
        sample = pixels.reshape(1, -1) if p.kind == "table" else pixels[None]
        yield {name: array_input(pre, name, sample, path)}


IMAGE = Image()
