"""Reading images for the encoder: id lists, files, robust decoding to RGB, a dataset of images by id.

Images that cannot be embedded are *skipped with a reason*, never dropped silently and never a
crash: missing file, not an image / corrupt, truncated, zero-sized, or larger than ``max_pixels``
(PIL's decompression-bomb guard). Grayscale, palette, CMYK, alpha and 16-bit images are converted to
8-bit RGB (alpha composited on white, 16-bit scaled by 1/257) and embedded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

__all__ = [
    "IMAGE_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
    "ImageSkipped",
    "read_ids",
    "find_image",
    "open_rgb",
    "decode_image",
    "ImageSet",
]


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


#: PIL raises DecompressionBombError above 2 x Image.MAX_IMAGE_PIXELS (about 179 megapixels);
#: we skip such images with a reason instead (pass ``max_pixels`` to change the limit).
DEFAULT_MAX_PIXELS = 2 * 89_478_485


class ImageSkipped(Exception):
    """An image that cannot be embedded; the message is the reason written to the report."""


def read_ids(path: str | os.PathLike) -> list[str]:
    """Read an id list (see :func:`geoclip_utils.labels.read_ids`, the one id-list reader: an id column or
    the first column, the authors' ``IMG_ID`` files included, each problem named by its line)."""
    from ..labels import read_ids as read_id_list

    return read_id_list(path)


def find_image(image_dir: str | os.PathLike, image_id: str) -> Path | None:
    """The file of an image id: ``<image_dir>/<id>.jpg`` (or .jpeg / .png, any case); ``None`` if absent."""
    base = Path(image_dir)
    for suffix in IMAGE_SUFFIXES:
        p = base / f"{image_id}{suffix}"
        if p.is_file():
            return p
    return None


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        if arr.ndim != 2:
            raise ImageSkipped(f"unsupported {mode} image with shape {arr.shape}")
        arr = arr.astype(np.float64)
        if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255):
            arr = arr / 257.0  # 16-bit -> 8-bit
        elif mode == "F" and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def open_rgb(
    path: str | os.PathLike | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS, draft_size: int | None = None
) -> Image.Image:
    """Open an image file as a fully decoded 8-bit RGB PIL image.

    Parameters
    ----------
    path : image file, or a binary file object (a member of a tar shard).
    max_pixels : int
        Larger images are refused (checked from the header, before decoding).
    draft_size : int, optional
        For JPEGs, let the decoder downscale by 2, 4 or 8 while both sides stay >= ``draft_size``
        (much faster for big photos; :func:`~geoclip_utils.engine.runner.embed_images` passes twice the model resolution, so the
        final bicubic resize still starts from at least 2x the target). ``None``: full decode.

    Returns
    -------
    PIL.Image.Image in mode RGB.

    Raises
    ------
    ImageSkipped
        With the reason (not an image, truncated, too large, zero-sized, unsupported mode).
    """
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own, explicit check below replaces PIL's warning/error
    try:
        try:
            im = Image.open(path)
        except UnidentifiedImageError as exc:
            raise ImageSkipped("not an image (PIL cannot identify the file)") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = old
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageSkipped(f"zero-sized image ({w}x{h})")
        if w * h > max_pixels:
            raise ImageSkipped(
                f"too large: {w}x{h} = {w * h:,} pixels > max_pixels {max_pixels:,} "
                "(decompression-bomb guard; raise max_pixels to embed it)"
            )
        if draft_size and im.format == "JPEG":
            im.draft(None, (draft_size, draft_size))
        try:
            im.load()
        except OSError as exc:
            msg = str(exc)
            if "truncated" in msg:
                raise ImageSkipped(f"truncated file ({msg})") from exc
            raise ImageSkipped(f"corrupt image data ({msg})") from exc
        except (ValueError, SyntaxError, EOFError) as exc:
            raise ImageSkipped(f"corrupt image data ({type(exc).__name__}: {exc})") from exc
        return _to_rgb(im)
    except ImageSkipped:
        im.close()
        raise


class ImageSet(Dataset):
    """A map-style dataset of images by id; items are ``(index, tensor or None, reason)``.

    Failures never raise: the item carries ``None`` and the reason
    (:func:`~geoclip_utils.engine.units.decode_unit` turns them into rows that are not ``ok``).

    Parameters
    ----------
    image_dir : folder with ``<id>.jpg`` files.
    ids : image ids.
    preprocess : the model's transform (PIL RGB image -> tensor).
    max_pixels, draft_size : see :func:`open_rgb`.
    """

    def __init__(
        self,
        image_dir: str | os.PathLike,
        ids: Sequence[str],
        preprocess: Callable,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        draft_size: int | None = None,
    ) -> None:
        self.image_dir = Path(image_dir)
        self.ids = list(ids)
        self.preprocess = preprocess
        self.max_pixels = max_pixels
        self.draft_size = draft_size

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        image_id = self.ids[i]
        if "/" in image_id or "\\" in image_id or image_id in (".", ".."):
            return i, None, "invalid image id (contains a path separator)"
        path = find_image(self.image_dir, image_id)
        if path is None:
            return i, None, f"missing file: no {image_id}.jpg/.jpeg/.png in {self.image_dir}"
        return (
            i,
            *decode_image(path, self.preprocess, max_pixels=self.max_pixels, draft_size=self.draft_size),
        )


def decode_image(
    source: str | os.PathLike | BinaryIO,
    preprocess: Callable,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
) -> tuple[torch.Tensor | None, str]:
    """Decode and preprocess one image; never raises for a bad image.

    The one decoding step of every input (a folder's files, a tar shard's members) and every backend.

    Parameters
    ----------
    source : image file or binary file object.
    preprocess : the model's transform (PIL RGB image -> tensor).
    max_pixels, draft_size : see :func:`open_rgb`.

    Returns
    -------
    (tensor, "") for an image, (None, reason) for one that cannot be embedded.

    Example
    -------
    >>> x, reason = decode_image("photo.jpg", preprocess)  # doctest: +SKIP
    """
    try:
        with open_rgb(source, max_pixels=max_pixels, draft_size=draft_size) as im:
            return preprocess(im), ""
    except ImageSkipped as exc:
        return None, str(exc)
    except Exception as exc:  # never crash on one image; keep the reason
        return None, f"could not read image ({type(exc).__name__}: {exc})"
