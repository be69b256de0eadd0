"""Images: upload checks, result checks, thumbnails and placeholders (Pillow, pure functions).

Nothing here imports Django or reads settings; limits arrive as keyword arguments with safe
defaults, so callers pass values they read from settings at call time.

Sources. Every public function takes an `ImageSource`: `bytes`, a path (`os.PathLike`) or a
binary file object. Paths are opened and closed here. File objects belong to the caller: they
are read from the start when seekable and are left open. Each source is read into memory once,
after its size has been checked, so Pillow never holds a file handle.

Safety model.
- The format comes from the magic bytes (JPEG, PNG, WebP only) and the matching Pillow plugin
  is constructed directly, so no other decoder ever sees the bytes and names or Content-Types
  play no part.
- Pixel caps are checked from the header before any pixel is decoded. Constructing the plugin
  directly skips `Image.open`'s check against the global `Image.MAX_IMAGE_PIXELS`, so no global
  state is read or changed. WebP is checked from its RIFF header even earlier, because libwebp
  allocates the whole canvas when its decoder is created.
- `ImageFile.LOAD_TRUNCATED_IMAGES` must stay False: `result_inspect` refuses to run otherwise.
- No metadata reaches an encoder: pixels are converted to sRGB, `info` is emptied and the image
  is re-encoded, which drops EXIF (GPS included), XMP, ICC profiles and PNG text chunks.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cache
from operator import mul
from typing import IO, Literal

from PIL import (
    ExifTags,
    Image,
    ImageCms,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from gallery.media.renditions import THUMBNAIL_WIDTHS
from seedream import limits
from seedream.download import looks_complete
from seedream.mediatypes import MIME_TYPES, ImageFormat, extension, mime_type, sniff_format

__all__ = [
    "OXEN_TARGET_BYTES",
    "OXEN_TARGET_SIDE",
    "REFERENCE_BAD_ASPECT",
    "REFERENCE_MAX_BYTES",
    "REFERENCE_MAX_PIXELS",
    "REFERENCE_MAX_SIDE",
    "REFERENCE_TOO_SMALL",
    "RESULT_MAX_BYTES",
    "RESULT_MAX_PIXELS",
    "ImageRejected",
    "ImageSource",
    "IngestedResult",
    "NormalizedImage",
    "RejectCode",
    "ResultInfo",
    "Thumbnail",
    "content_name",
    "data_uri",
    "original_for_public",
    "placeholder_colour",
    "placeholder_make",
    "reference_check_for_seedream",
    "reference_for_oxen",
    "reference_normalize",
    "result_ingest",
    "result_inspect",
    "thumbnail_webp",
    "thumbnails_make",
]

type ImageSource = bytes | os.PathLike[str] | IO[bytes]
type RejectCode = Literal[
    "empty",
    "not_an_image",
    "too_many_bytes",
    "too_many_pixels",
    "damaged",
    "truncated",
    "too_small",
    "bad_aspect",
]

MB = 1024 * 1024
MP = 1_000_000

REFERENCE_MAX_BYTES = 20 * MB
REFERENCE_MAX_PIXELS = 40 * MP
# Stored references are capped at Seedream's largest output (4096²); larger ones carry nothing
# the model uses, and `reference_for_oxen` shrinks them further anyway.
REFERENCE_MAX_SIDE = 4096
REFERENCE_JPEG_QUALITY = 90

RESULT_MAX_BYTES = 64 * MB
RESULT_MAX_PIXELS = 100 * MP

# WebP q80. Method 4 up to 1 MP (the grid sizes, fetched most): method 6 takes ~1.75x as long to
# encode (ENGINEERING-NOTES §1.2) and measured no smaller here. Above 1 MP (the 1600 px preview)
# method 2: on a 1600² photo it encodes in 77 ms instead of 163 ms, for +4.5 % bytes at the same
# PSNR (38.3 dB).
# The renditions made at ingest (the grid's 400 px, a burst of completions waits for them) use
# method 2 as well: on the simulator's 2048 px photo results it encodes a 400 px tile in 6.3 ms
# instead of 13.4 ms, for +6 % bytes and -0.09 dB PSNR (32.21 against 32.30 dB; issue 15;
# bench/bench_thumbnails.py prints both).
THUMBNAIL_WEBP_QUALITY = 80
THUMBNAIL_WEBP_METHOD = 4
THUMBNAIL_WEBP_METHOD_LARGE = 2
THUMBNAIL_WEBP_LARGE_PIXELS = 1_000_000
INGEST_WEBP_METHOD = 2

# Seedream's per-image limits come from seedream.limits.
# 2048 is Seedream's 2K output size: a larger reference adds bytes, not information. A 2048 px
# JPEG q85 is typically 0.3-1 MB, so the base64 data: URI stays around 1-1.5 MB.
OXEN_TARGET_SIDE = 2048
OXEN_TARGET_BYTES = 1_500_000
# Tried in order until one encodes under the target: (share of the target side, JPEG quality).
_OXEN_LADDER = ((1.0, 85), (1.0, 75), (0.75, 75), (0.5, 75))

PLACEHOLDER_SIZE = 32


_PLUGINS: dict[ImageFormat, type[ImageFile.ImageFile]] = {
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}


# The same table as ImageOps.exif_transpose; applied by hand so it can run on the small,
# already-resized image instead of the full decode.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = frozenset({5, 6, 7, 8})

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


# --------------------------------------------------------------------------------------------
# Errors


class ImageRejected(Exception):
    """An image a person can fix: `message` is written for them, `code` is for the program."""

    def __init__(self, message: str, *, code: RejectCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Subject(Enum):
    """Whose words to use: a person's upload, or a file that Oxen gave back to us."""

    UPLOAD = "upload"
    RESULT = "result"


_MESSAGES: dict[_Subject, dict[str, str]] = {
    _Subject.UPLOAD: {
        "empty": "This file is empty.",
        "not_an_image": "This file is not a JPEG, PNG or WebP image.",
        "text": "This file is not a JPEG, PNG or WebP image.",
        "too_many_bytes": "This file is {size} MB; the limit is {limit} MB.",
        "too_many_bytes_unknown": "This file is over the {limit} MB limit.",
        "too_many_pixels": "This image is {size} MP; the limit is {limit} MP.",
        # A person cannot do more about a cut-off upload than about any other broken file.
        "truncated": "This image is damaged and cannot be read.",
        "damaged": "This image is damaged and cannot be read.",
    },
    _Subject.RESULT: {
        "empty": "The result file is empty.",
        "not_an_image": "The result is not a JPEG, PNG or WebP image.",
        "text": "The result is not an image (got text/HTML).",
        "too_many_bytes": "The result file is {size} MB, over the {limit} MB limit.",
        "too_many_bytes_unknown": "The result file is over the {limit} MB limit.",
        "too_many_pixels": "The result is {size} MP, over the {limit} MP limit.",
        "truncated": "The result file is truncated.",
        "damaged": "The result file is damaged and cannot be read.",
    },
}

_CODES: dict[str, RejectCode] = {
    "empty": "empty",
    "not_an_image": "not_an_image",
    "text": "not_an_image",
    "too_many_bytes": "too_many_bytes",
    "too_many_bytes_unknown": "too_many_bytes",
    "too_many_pixels": "too_many_pixels",
    "truncated": "truncated",
    "damaged": "damaged",
}


def _rejected(key: str, subject: _Subject, **values: str) -> ImageRejected:
    return ImageRejected(_MESSAGES[subject][key].format(**values), code=_CODES[key])


def _amount(value: int, unit: int) -> str:
    """`value` in `unit`s, rounded *up* to one decimal so 40.01 MP never reads as "40 MP"."""
    tenths = -(-value * 10 // unit)
    whole, fraction = divmod(tenths, 10)
    return str(whole) if fraction == 0 else f"{whole}.{fraction}"


# --------------------------------------------------------------------------------------------
# Result types


class _Typed:
    __slots__ = ()
    format: str

    @property
    def mime(self) -> str:
        return mime_type(self.format)

    @property
    def extension(self) -> str:
        return extension(self.format)


@dataclass(frozen=True, slots=True)
class NormalizedImage(_Typed):
    """A re-encoded reference image: sRGB, no metadata, JPEG (opaque) or PNG (real alpha)."""

    data: bytes
    format: Literal["JPEG", "PNG"]
    width: int
    height: int
    sha256: str
    byte_size: int


@dataclass(frozen=True, slots=True)
class ResultInfo(_Typed):
    """A downloaded result that decoded completely. Sizes are as displayed (EXIF-rotated)."""

    format: ImageFormat
    width: int
    height: int
    sha256: str
    byte_size: int


@dataclass(frozen=True, slots=True)
class Thumbnail(_Typed):
    """One WebP thumbnail; name it with `content_name(sha256, width, extension)`."""

    width: int
    height: int
    data: bytes
    sha256: str
    format: Literal["WEBP"] = "WEBP"


# --------------------------------------------------------------------------------------------
# Public API


def reference_normalize(
    source: ImageSource,
    *,
    max_bytes: int = REFERENCE_MAX_BYTES,
    max_pixels: int = REFERENCE_MAX_PIXELS,
    max_side: int = REFERENCE_MAX_SIDE,
) -> NormalizedImage:
    """Check a user's reference image and re-encode it clean.

    Only JPEG, PNG and WebP are accepted, by magic bytes. The byte and pixel caps are checked
    before decoding. The image is EXIF-rotated, shrunk to `max_side` (DCT-scaled decode for
    JPEG), converted to sRGB, and re-encoded without any metadata: as JPEG q90 when it is
    opaque, as PNG when it has real transparency (an alpha channel that is all 255 is dropped).
    Raises `ImageRejected` with a message for the person who uploaded it.
    """
    # Draft at twice the target, as Image.thumbnail does, so the final LANCZOS pass still has
    # pixels to average: references are one-off and quality matters more than a few ms here.
    image = _upright(
        source,
        lambda shown: _fit(shown, max_side),
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        draft_gap=2,
        resample=_FINE,
    )
    out_format: Literal["JPEG", "PNG"]
    if image.mode == "RGBA":
        encoded, out_format = _encode(image, "PNG"), "PNG"
    else:
        encoded = _encode(image, "JPEG", quality=REFERENCE_JPEG_QUALITY, optimize=True)
        out_format = "JPEG"
    return NormalizedImage(
        data=encoded,
        format=out_format,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
        byte_size=len(encoded),
    )


def reference_for_oxen(
    source: ImageSource,
    *,
    max_side: int = OXEN_TARGET_SIDE,
    target_bytes: int = OXEN_TARGET_BYTES,
) -> tuple[bytes, str]:
    """Re-encode a reference so it fits Seedream's per-image limits; returns (bytes, mime).

    Seedream needs both sides > 14 px and an aspect ratio within [1/16, 16] (``seedream.limits``);
    an image outside those is rejected with a message rather than padded or cropped behind the
    person's back (uploads are checked against the same rule: ``reference_check_for_seedream``).
    The result is at most `max_side` px a side, sRGB, without metadata: JPEG q85 (stepping down
    to q75 and smaller sizes until it is under `target_bytes`), or PNG if it has transparency.
    It is always under Seedream's 10 MB, or `ImageRejected` is raised.
    """
    if not limits.REFERENCE_MIN_SIDE <= max_side <= limits.REFERENCE_MAX_SIDE:
        low, high = limits.REFERENCE_MIN_SIDE, limits.REFERENCE_MAX_SIDE
        msg = f"max_side must be within [{low}, {high}], not {max_side}"
        raise ValueError(msg)

    def plan(shown: tuple[int, int]) -> tuple[int, int]:
        reference_check_for_seedream(*shown)  # before decoding anything
        return _fit(shown, max_side)

    # Drafting straight at the target (not 2x) decodes a 4096² JPEG at 2048² in ~30 ms instead
    # of ~100 ms in full; the DCT-domain 1/2 scale is itself a good low-pass.
    base = _upright(
        source,
        plan,
        max_bytes=REFERENCE_MAX_BYTES,
        max_pixels=REFERENCE_MAX_PIXELS,
        draft_gap=1,
        resample=_FINE,
    )

    smallest: tuple[bytes, str] | None = None
    tried: set[tuple[int, int, int]] = set()
    for share, quality in _OXEN_LADDER:
        size = _oxen_size(base.size, round(max_side * share))
        # PNG has no quality knob, so for transparent images only the size steps count.
        attempt = (*size, 0 if base.mode == "RGBA" else quality)
        if attempt in tried:
            continue
        tried.add(attempt)
        image = _resize(base, size, _FINE)
        reference_check_for_seedream(*image.size)
        if image.mode == "RGBA":
            encoded, mime = _encode(image, "PNG"), mime_type("PNG")
        else:
            encoded = _encode(image, "JPEG", quality=quality, optimize=True)
            mime = mime_type("JPEG")
        if len(encoded) <= target_bytes:
            return encoded, mime
        if smallest is None or len(encoded) < len(smallest[0]):
            smallest = (encoded, mime)
    assert smallest is not None
    if len(smallest[0]) > limits.REFERENCE_MAX_BYTES:
        size_mb = _amount(len(smallest[0]), MP)
        raise ImageRejected(
            f"This image is still {size_mb} MB after shrinking; Seedream's limit is "
            f"{limits.REFERENCE_MAX_BYTES // 1_000_000} MB.",
            code="too_many_bytes",
        )
    return smallest


def data_uri(data: bytes, mime: str) -> str:
    """A `data:` URI for an inline Seedream reference (`input_image`)."""
    if mime not in MIME_TYPES:
        msg = f"not an image type Seedream accepts: {mime!r}"
        raise ValueError(msg)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def warm() -> None:
    """Load what decoding a JPEG and encoding a WebP thumbnail load on first use (Pillow's
    plugins, the codecs, the sRGB profile): a worker process calls it as it starts, so the first
    result it ingests costs what every other does."""
    small = Image.new("RGB", (16, 16), (128, 96, 64))
    jpeg = _encode(small, "JPEG", quality=80)
    with Image.open(io.BytesIO(jpeg)) as decoded:
        decoded.draft("RGB", (8, 8))
        _thumbnail_encode(_finish(decoded.convert("RGB"), None, 1))


def result_inspect(
    source: ImageSource,
    *,
    max_bytes: int = RESULT_MAX_BYTES,
    max_pixels: int = RESULT_MAX_PIXELS,
) -> ResultInfo:
    """Check a downloaded generation result: a whole JPEG, PNG or WebP within the caps.

    The pixel cap is applied from the header, before decoding. The image is then decoded
    completely (JPEG at 1/8 DCT scale, which still reads every coded byte, so it is cheap but
    catches a truncated file); PNG chunk CRCs are verified too. Raises `ImageRejected` with
    `code="truncated"` for a file cut short (worth downloading again), and a readable message.
    """
    subject = _Subject.RESULT
    data, im, fmt = _result_open(source, max_bytes=max_bytes, max_pixels=max_pixels)
    size = im.size
    orientation = _orientation(im, fmt, subject)
    _decode(im, fmt, draft=(1, 1), subject=subject)
    width, height = _displayed(size, orientation)
    return ResultInfo(
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        byte_size=len(data),
    )


def thumbnails_make(
    source: ImageSource,
    widths: Sequence[int] = THUMBNAIL_WIDTHS,
    *,
    max_bytes: int = RESULT_MAX_BYTES,
    max_pixels: int = RESULT_MAX_PIXELS,
) -> list[Thumbnail]:
    """WebP thumbnails at `widths` (as displayed, EXIF-rotated), smallest first.

    Never upscales: a width at or above the image's own width is skipped, but there is always
    at least one thumbnail (at the image's own width if every width was skipped). The source is
    decoded once, DCT-scaled for the largest width when it is a JPEG; each smaller thumbnail is
    resized from the previous one, largest first. Output is sRGB without metadata, and the same
    input always gives the same bytes.
    """
    if not widths or min(widths) < 1:
        msg = f"widths must be positive, got {widths!r}"
        raise ValueError(msg)
    sizes: list[tuple[int, int]] = []

    def plan(shown: tuple[int, int]) -> tuple[int, int]:
        sizes.extend(_thumbnail_sizes(shown, widths))
        return sizes[0]

    # Draft straight at the largest size (no 2x gap like Image.thumbnail): DCT scaling is a
    # proper low-pass, and it keeps the 4096² -> 400 px decode at 512² instead of 1024².
    image = _upright(
        source, plan, max_bytes=max_bytes, max_pixels=max_pixels, draft_gap=1, resample=_FAST
    )
    thumbnails = [_thumbnail_encode(each) for each in _thumbnail_images(image, sizes, halve=False)]
    thumbnails.reverse()
    return thumbnails


@dataclass(frozen=True, slots=True)
class IngestedResult:
    """A finished result, checked and rendered from one decode (``result_ingest``)."""

    info: ResultInfo
    thumbnails: list[Thumbnail]  # smallest first
    placeholder: str


def _result_open(
    source: ImageSource, *, max_bytes: int, max_pixels: int
) -> tuple[bytes, ImageFile.ImageFile, ImageFormat]:
    """A result's bytes and its opened (not yet decoded) image, after the checks both
    `result_inspect` and `result_ingest` make: the byte cap, the end marker, the pixel cap from
    the header and, for a PNG, every chunk CRC."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        msg = "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; truncated results would be accepted"
        raise RuntimeError(msg)
    subject = _Subject.RESULT
    data = _read(source, max_bytes=max_bytes, subject=subject)
    if (sniffed := sniff_format(data)) and _cut_short(data, sniffed):
        raise _rejected("truncated", subject)  # before libwebp, which only says "can't decode"
    im, fmt = _open(data, max_pixels=max_pixels, subject=subject)
    if fmt == "PNG":
        with _decoding(subject):
            im.verify()  # every chunk CRC; verify() leaves the image unusable, so reopen
        im, _ = _open(data, max_pixels=max_pixels, subject=subject)
    return data, im, fmt


def result_ingest(
    source: ImageSource,
    widths: Sequence[int],
    *,
    max_bytes: int = RESULT_MAX_BYTES,
    max_pixels: int = RESULT_MAX_PIXELS,
) -> IngestedResult:
    """`result_inspect`, `thumbnails_make` and `placeholder_make` from one read and one decode.

    The checks are `result_inspect`'s (caps from the header, the end marker, PNG chunk CRCs,
    and a complete decode: the DCT-scaled decode of a JPEG still reads every coded byte, so a
    truncated file is refused). The decode is scaled for the largest of `widths` (the 400 and
    800 px renditions: a 4096² JPEG decodes at 1024², not at 2048² as for a 1600 px preview);
    each smaller size is a 2:1 `reduce()` of the previous one when the sizes are exactly half
    (a box filter: what `Image.thumbnail` does on the way down), else a BICUBIC resize. The
    placeholder comes from the smallest thumbnail's pixels in memory, never a second decode.
    """
    if not widths or min(widths) < 1:
        msg = f"widths must be positive, got {widths!r}"
        raise ValueError(msg)
    subject = _Subject.RESULT
    data, im, fmt = _result_open(source, max_bytes=max_bytes, max_pixels=max_pixels)
    orientation = _orientation(im, fmt, subject)
    shown = _displayed(im.size, orientation)
    sizes = _thumbnail_sizes(shown, widths)
    size = _displayed(sizes[0], orientation)  # back to stored
    icc = im.info.get("icc_profile")
    _decode(im, fmt, draft=size, subject=subject)
    decoded = _workable(im)
    del im
    narrowed = _resize(decoded, (size[0], decoded.height), _FAST)
    del decoded
    image = _finish(_resize(narrowed, size, _FAST), icc, orientation)
    del narrowed
    images = _thumbnail_images(image, sizes, halve=True)
    thumbnails = [_thumbnail_encode(each, method=INGEST_WEBP_METHOD) for each in images]
    placeholder = placeholder_make(images[-1])
    thumbnails.reverse()
    info = ResultInfo(
        format=fmt,
        width=shown[0],
        height=shown[1],
        sha256=hashlib.sha256(data).hexdigest(),
        byte_size=len(data),
    )
    return IngestedResult(info=info, thumbnails=thumbnails, placeholder=placeholder)


def _thumbnail_sizes(shown: tuple[int, int], widths: Sequence[int]) -> list[tuple[int, int]]:
    """The thumbnail sizes (as displayed) for an image shown at `shown`, largest first: every
    width narrower than the image, or the image's own width if none is."""
    width, height = shown
    chosen = sorted({w for w in widths if w < width}, reverse=True) or [width]
    return [(w, _scaled(height, w, width)) for w in chosen]


def _thumbnail_images(
    image: Image.Image, sizes: Sequence[tuple[int, int]], *, halve: bool
) -> list[Image.Image]:
    """`image` at each of `sizes` (largest first), each made from the previous one: a 2:1
    `reduce()` when `halve` and the next size is exactly half, else a BICUBIC resize."""
    images = []
    for size in sizes:
        if halve and image.size == (2 * size[0], 2 * size[1]):
            image = image.reduce(2)
        else:
            image = _resize(image, size, _FAST)
        images.append(image)
    return images


def _thumbnail_encode(image: Image.Image, *, method: int | None = None) -> Thumbnail:
    """A WebP rendition; ``method`` (the encoder's effort) by size unless given."""
    if method is None:
        large = image.width * image.height > THUMBNAIL_WEBP_LARGE_PIXELS
        method = THUMBNAIL_WEBP_METHOD_LARGE if large else THUMBNAIL_WEBP_METHOD
    encoded = _encode(image, "WEBP", quality=THUMBNAIL_WEBP_QUALITY, method=method)
    return Thumbnail(
        width=image.width,
        height=image.height,
        data=encoded,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


def thumbnail_webp(
    source: ImageSource,
    width: int,
    *,
    max_bytes: int = RESULT_MAX_BYTES,
    max_pixels: int = RESULT_MAX_PIXELS,
) -> Thumbnail:
    """One WebP thumbnail `width` px wide (or the image's own width, if it is narrower)."""
    (thumbnail,) = thumbnails_make(source, (width,), max_bytes=max_bytes, max_pixels=max_pixels)
    return thumbnail


def content_name(sha256: str, width: int, ext: str) -> str:
    """A storage name from a content hash: `"ab/cdef…-400.webp"` (sharded by 2 hex digits)."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        msg = f"not a lowercase hex SHA-256: {sha256!r}"
        raise ValueError(msg)
    ext = ext.removeprefix(".").lower()
    if not ext.isascii() or not ext.isalnum():
        msg = f"not a file extension: {ext!r}"
        raise ValueError(msg)
    if width < 1:
        msg = f"width must be positive, got {width}"
        raise ValueError(msg)
    return f"{sha256[:2]}/{sha256[2:]}-{width}.{ext}"


def placeholder_make(source: ImageSource | Image.Image) -> str:
    """A blurhash (4x3 components, 3x4 for portrait images) to show until a thumbnail loads.

    Pass the smallest thumbnail's bytes rather than the original to skip a second decode of a
    large file. A Pillow image is taken as already displayed (no EXIF rotation) and is neither
    changed nor closed. Transparent areas are shown over white.
    """
    if isinstance(source, Image.Image):
        workable = _workable(source)
        small = _resize(workable, _fit(workable.size, PLACEHOLDER_SIZE), _FAST)
        tiny = _finish(small, source.info.get("icc_profile"), 1)
    else:
        tiny = _upright(
            source,
            lambda shown: _fit(shown, PLACEHOLDER_SIZE),
            max_bytes=RESULT_MAX_BYTES,
            max_pixels=RESULT_MAX_PIXELS,
            draft_gap=1,
            resample=_FAST,
        )
    if tiny.mode == "RGBA":
        white = Image.new("RGBA", tiny.size, (255, 255, 255, 255))
        tiny = Image.alpha_composite(white, tiny).convert("RGB")
    x_components, y_components = (4, 3) if tiny.width >= tiny.height else (3, 4)
    return _blurhash_encode(tiny, x_components, y_components)


def placeholder_colour(blurhash: str) -> str:
    """The average colour of a blurhash as CSS `#rrggbb`, for a solid fallback."""
    if len(blurhash) < 6 or any(c not in _BASE83 for c in blurhash):
        msg = f"not a blurhash: {blurhash!r}"
        raise ValueError(msg)
    value = 0
    for char in blurhash[2:6]:  # the DC component: the average colour in sRGB
        value = value * 83 + _BASE83.index(char)
    return f"#{value:06x}"


# --------------------------------------------------------------------------------------------
# Reading and opening


def _read(source: ImageSource, *, max_bytes: int, subject: _Subject) -> bytes:
    """All bytes of `source`, refusing anything over `max_bytes` before reading it."""
    limit = _amount(max_bytes, MB)
    size: int | None
    if isinstance(source, bytes):
        size, data = len(source), source
    elif isinstance(source, os.PathLike):
        size = os.stat(source).st_size
        if size > max_bytes:
            raise _rejected("too_many_bytes", subject, size=_amount(size, MB), limit=limit)
        with open(source, "rb") as file:
            data = file.read(max_bytes + 1)
    elif hasattr(source, "read"):
        size = _seekable_size(source)
        if size is not None and size > max_bytes:
            raise _rejected("too_many_bytes", subject, size=_amount(size, MB), limit=limit)
        data = source.read(max_bytes + 1)
    else:
        msg = f"expected bytes, a path or a binary file object, not {type(source).__name__}"
        raise TypeError(msg)
    if len(data) > max_bytes:
        if size is None or size <= max_bytes:  # the file grew, or could not be measured
            raise _rejected("too_many_bytes_unknown", subject, limit=limit)
        raise _rejected("too_many_bytes", subject, size=_amount(size, MB), limit=limit)
    if not data:
        raise _rejected("empty", subject)
    return data


def _seekable_size(file: IO[bytes]) -> int | None:
    """Rewind `file` and return its length, or None when it cannot seek."""
    try:
        size = file.seek(0, os.SEEK_END)
        file.seek(0)
    except (OSError, AttributeError, ValueError):
        return None
    return size


def _open(
    data: bytes, *, max_pixels: int, subject: _Subject
) -> tuple[ImageFile.ImageFile, ImageFormat]:
    """Parse the header with the one plugin the magic bytes name, and apply the pixel cap."""
    fmt = sniff_format(data)
    if fmt is None:
        raise _rejected("text" if _looks_like_text(data) else "not_an_image", subject)
    if fmt == "WEBP":
        size = _webp_canvas_size(data)
        if size is None:
            raise _rejected("damaged", subject)
        _check_pixels(size, max_pixels, subject)
    try:
        with _decoding(subject):
            im = _PLUGINS[fmt](io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        # Only the WebP plugin checks the global limit itself (past 2 * MAX_IMAGE_PIXELS), so
        # this is a WebP within a caller's cap that is larger still: refuse it all the same.
        raise _rejected("damaged", subject) from exc
    _check_pixels(im.size, max_pixels, subject)
    return im, fmt


def _check_pixels(size: tuple[int, int], max_pixels: int, subject: _Subject) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise _rejected("damaged", subject)
    if width * height > max_pixels:
        raise _rejected(
            "too_many_pixels",
            subject,
            size=_amount(width * height, MP),
            limit=_amount(max_pixels, MP),
        )


def _webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a WebP's first chunk header (RIFF container, VP8/VP8L/VP8X)."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _cut_short(data: bytes, fmt: ImageFormat) -> bool:
    """Whether the file ends early: the downloader's own test (its last bytes hold the end
    marker; a WebP's RIFF length fits). Decoding alone misses a JPEG cut just before its
    end-of-image marker when the last scan happens to be complete."""
    return not looks_complete(fmt, data[:12], data[-32:], len(data))


def _looks_like_text(data: bytes) -> bool:
    """Whether a non-image looks like an error page or other text rather than binary data."""
    sample = data[:1024]
    if not sample or b"\x00" in sample:
        return False
    printable = sum(1 for byte in sample if byte >= 0x20 or byte in b"\t\n\r")
    return printable >= 0.95 * len(sample)


@contextmanager
def _decoding(subject: _Subject) -> Iterator[None]:
    """Turn what Pillow raises for a broken file into a readable `ImageRejected`."""
    try:
        yield
    except (OSError, SyntaxError, EOFError, ValueError, TypeError, IndexError, struct.error) as exc:
        key = "truncated" if "truncated" in str(exc).lower() else "damaged"
        raise _rejected(key, subject) from exc


def _orientation(im: ImageFile.ImageFile, fmt: ImageFormat, subject: _Subject) -> int:
    """The EXIF orientation (1-8). Header-only for JPEG and WebP, so `draft()` still works."""
    if fmt == "PNG":
        with _decoding(subject):
            im.load()  # PNG's eXIf chunk may follow the pixels; PNG has no draft() to lose
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error):
        return 1  # broken EXIF must not block an image; it is dropped on re-encode anyway
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _decode(
    im: ImageFile.ImageFile, fmt: ImageFormat, *, draft: tuple[int, int], subject: _Subject
) -> None:
    """Decode the pixels, DCT-scaled for JPEG so the result is still at least `draft` in size."""
    with _decoding(subject):
        if fmt == "JPEG" and (draft[0] < im.width or draft[1] < im.height):
            im.draft(None, draft)
        im.load()


def _upright(
    source: ImageSource,
    plan: Callable[[tuple[int, int]], tuple[int, int]],
    *,
    max_bytes: int,
    max_pixels: int,
    draft_gap: int,
    resample: Image.Resampling,
) -> Image.Image:
    """Read and check `source`, then return it upright, sRGB, at the size `plan` picks.

    `plan` gets the size as displayed (after EXIF rotation) and returns the size wanted, as
    displayed; it may raise `ImageRejected` to refuse the image before anything is decoded.
    A JPEG is DCT-scaled while decoding to the smallest size >= `draft_gap` x that size; the
    decoded image is dropped as soon as it is resized, which is where the peak memory is.
    """
    subject = _Subject.UPLOAD
    data = _read(source, max_bytes=max_bytes, subject=subject)
    im, fmt = _open(data, max_pixels=max_pixels, subject=subject)
    orientation = _orientation(im, fmt, subject)
    size = _displayed(plan(_displayed(im.size, orientation)), orientation)  # back to stored
    icc = im.info.get("icc_profile")
    _decode(im, fmt, draft=(size[0] * draft_gap, size[1] * draft_gap), subject=subject)
    decoded = _workable(im)
    del im
    # Resize one axis at a time and drop the decode in between. Pillow's one-call resize holds
    # the input, a one-axis intermediate and the output at once: for a 4096² JPEG -> 1600 px
    # that is 16 + 13 + 10 MB; this way the peak is 16 + 13 MB, with the same pixels.
    narrowed = _resize(decoded, (size[0], decoded.height), resample)
    del decoded
    return _finish(_resize(narrowed, size, resample), icc, orientation)


# --------------------------------------------------------------------------------------------
# Pixels


def _workable(im: Image.Image) -> Image.Image:
    """A mode that resizes correctly and that `_to_srgb` understands: L, RGB, RGBA or CMYK."""
    mode = im.mode
    if "transparency" in im.info and mode in ("1", "L", "P", "RGB"):
        return im.convert("RGBA")
    if mode in ("L", "RGB", "RGBA", "CMYK"):
        return im
    if mode.startswith("I"):  # 16-bit greyscale PNG: scale to 8 bits, don't clip at 255
        return im.point(lambda value: value * (1 / 256)).convert("L")
    if mode in ("1", "F"):
        return im.convert("L")
    has_alpha = mode in ("LA", "La", "PA", "RGBa")
    return im.convert("RGBA" if has_alpha else "RGB")


# Thumbnails use BICUBIC, Image.thumbnail's default: LANCZOS costs +30 % (71 vs 55 ms for
# 2048² -> 1600²) for a difference nobody sees at gallery sizes. References keep LANCZOS.
_FAST = Image.Resampling.BICUBIC
_FINE = Image.Resampling.LANCZOS


def _resize(image: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    if image.size == size:
        return image
    # reducing_gap only matters for big non-JPEG shrinks: a cheap box reduce() runs first.
    return image.resize(size, resample, reducing_gap=3.0)


def _finish(image: Image.Image, icc: bytes | None, orientation: int) -> Image.Image:
    """sRGB, RGB or RGBA (only with real transparency), turned upright."""
    image = _to_srgb(image, icc)
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB")
    if method := _TRANSPOSE.get(orientation):
        image = image.transpose(method)
    return image


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from the embedded ICC profile to sRGB; RGB or RGBA out."""
    target = "RGBA" if image.mode == "RGBA" else "RGB"
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode not in ("RGB", "RGBA") or not _is_srgb(profile):
                converted = ImageCms.profileToProfile(
                    image, profile, _srgb_profile(), outputMode=target
                )
                if converted is not None:
                    return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unusable profile: keep the pixels and treat them as sRGB
    return image if image.mode == target else image.convert(target)


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """Whether an RGB profile has sRGB's primaries, so converting would change nothing.

    Compares colorants, not names: a Display P3 or Adobe RGB profile differs by far more than
    the tolerance, and skipping the transform saves ~17 ms per megapixel.
    """
    core, reference = profile.profile, _srgb_profile().profile
    if core.xcolor_space.strip() != "RGB":
        return False
    pairs = (
        (core.red_colorant, reference.red_colorant),
        (core.green_colorant, reference.green_colorant),
        (core.blue_colorant, reference.blue_colorant),
    )
    for colorant, expected in pairs:
        if colorant is None or expected is None:
            return False
        if any(abs(a - b) > 0.003 for a, b in zip(colorant[0], expected[0], strict=True)):
            return False
    return True


def _encode(image: Image.Image, fmt: str, **params: int | bool) -> bytes:
    """Encode with no metadata: `info` is emptied first because PNG copies ICC from it."""
    image.info = {}
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Sizes


def _scaled(length: int, new_width: int, width: int) -> int:
    """`length` scaled by new_width / width, rounded half up, at least 1."""
    return max(1, (2 * length * new_width + width) // (2 * width))


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` shrunk (never grown) so that neither side exceeds `max_side`."""
    width, height = size
    if max(width, height) <= max_side:
        return size
    if width >= height:
        return max_side, _scaled(height, max_side, width)
    return _scaled(width, max_side, height), max_side


def _displayed(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """`size` as shown after EXIF rotation (also maps a displayed size back to stored)."""
    return (size[1], size[0]) if orientation in _SWAPS_AXES else size


def _oxen_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`_fit`, then nudge the short side so rounding cannot push the ratio past the limit."""
    width, height = _fit(size, max_side)
    if width >= height:
        height = max(height, -(-width // limits.REFERENCE_MAX_ASPECT))
    else:
        width = max(width, -(-height // limits.REFERENCE_MAX_ASPECT))
    return width, height


# The two refusals of `reference_check_for_seedream`, as templates: the generate page hands
# them (limits filled in) to its drop zone, which says the same sentence before uploading.
REFERENCE_TOO_SMALL = (
    "This image is {width}x{height} px; Seedream needs both sides to be larger than "
    f"{limits.REFERENCE_MIN_SIDE - 1} px."
)
REFERENCE_BAD_ASPECT = (
    "This image is {width}x{height} px ({shape}); Seedream accepts aspect ratios from "
    f"1:{limits.REFERENCE_MAX_ASPECT} to {limits.REFERENCE_MAX_ASPECT}:1. Crop it and try again."
)


def reference_check_for_seedream(width: int, height: int) -> None:
    """Raise `ImageRejected` (for the person who uploaded it) unless an image of this size is
    one Seedream takes as a reference: both sides > 14 px, aspect within [1/16, 16]."""
    if min(width, height) < limits.REFERENCE_MIN_SIDE:
        raise ImageRejected(
            REFERENCE_TOO_SMALL.format(width=width, height=height), code="too_small"
        )
    long, short = max(width, height), min(width, height)
    if long > limits.REFERENCE_MAX_ASPECT * short:
        ratio = _amount(long, short)  # rounded up to a tenth; the drop zone does the same
        shape = f"{ratio}:1" if width > height else f"1:{ratio}"
        raise ImageRejected(
            REFERENCE_BAD_ASPECT.format(width=width, height=height, shape=shape),
            code="bad_aspect",
        )


# --------------------------------------------------------------------------------------------
# Blurhash


def _blurhash_encode(image: Image.Image, x_components: int, y_components: int) -> str:
    """The blurhash of a small image (at most ``PLACEHOLDER_SIZE`` a side): the reference
    algorithm (woltapp/blurhash), with its cosine basis applied one axis at a time. The
    reference Python encoder evaluates two cosines per pixel per component (3.8 ms a 32 px
    image); a row sum per horizontal component and channel, then a column sum, gives the same
    components from ``sum(map(mul, ...))`` loops (0.5 ms; bench/bench_thumbnails.py prints
    both). Float sums in another order can move a component by a rounding error, so the rare
    value on a quantisation boundary may come out one step apart from the reference encoder's.
    The caller's image is left as it was."""
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    width, height = rgb.size
    linear = [_SRGB_TO_LINEAR[value] for value in rgb.tobytes()]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)
    ]
    stride = width * 3
    # rows[c][y]: channel c of row y; row_sums[i][c][y]: that row against horizontal basis i.
    rows = [
        [linear[y * stride + c : (y + 1) * stride : 3] for y in range(height)] for c in range(3)
    ]
    row_sums = [
        [[sum(map(mul, basis, row)) for row in channel] for channel in rows] for basis in cos_x
    ]
    components = []
    for j in range(y_components):
        for i in range(x_components):
            scale = (1.0 if i == j == 0 else 2.0) / (width * height)
            components.append([scale * sum(map(mul, cos_y[j], row_sums[i][c])) for c in range(3)])
    dc, ac = components[0], components[1:]
    max_ac = max((abs(value) for component in ac for value in component), default=0.0)
    quantised_max = int(max(0, min(82, math.floor(max_ac * 166 - 0.5))))
    ac_scale = (quantised_max + 1) / 166.0

    def quantise(value: float) -> int:
        root = math.copysign(math.pow(abs(value / ac_scale), 0.5), value)
        return int(max(0.0, min(18.0, math.floor(root * 9.0 + 9.5))))

    dc_value = (
        (_linear_to_srgb(dc[0]) << 16) + (_linear_to_srgb(dc[1]) << 8) + _linear_to_srgb(dc[2])
    )
    parts = [
        _base83((x_components - 1) + (y_components - 1) * 9, 1),
        _base83(quantised_max, 1),
        _base83(dc_value, 4),
    ]
    parts += [_base83(quantise(r) * 19 * 19 + quantise(g) * 19 + quantise(b), 2) for r, g, b in ac]
    return "".join(parts)


def _srgb_to_linear(value: int) -> float:
    v = value / 255.0
    return v / 12.92 if v <= 0.04045 else math.pow((v + 0.055) / 1.055, 2.4)


_SRGB_TO_LINEAR = tuple(_srgb_to_linear(value) for value in range(256))


def _linear_to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * math.pow(v, 1 / 2.4) - 0.055) * 255 + 0.5)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[value // 83 ** (length - i) % 83] for i in range(1, length + 1))


# --------------------------------------------------------------------------------------------
# Originals for people outside the team

# What a generated original can carry that its pixels do not need: EXIF (camera-like fields,
# GPS, a description), XMP and IPTC (an upstream's prompt, provenance such as C2PA in JPEG's
# APP11 / PNG's caBX), an ICC profile (whose tags hold free text), PNG text chunks, JPEG
# comments, a JFIF thumbnail, and anything appended after the image ends. The team keeps all of
# it on its own downloads; a shared link's download gets none of it.
PUBLIC_JPEG_QUALITY = 95
_JFIF = b"JFIF\x00"
_PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"pHYs"}
)
_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})
_WEBP_METADATA_FLAGS = 0x20 | 0x08 | 0x04  # VP8X: ICC profile, EXIF, XMP


def original_for_public(
    source: ImageSource,
    *,
    max_bytes: int = RESULT_MAX_BYTES,
    max_pixels: int = RESULT_MAX_PIXELS,
) -> bytes:
    """The original without its metadata, in its own format, for a shared link's download.

    When the pixels need nothing (no ICC profile or an sRGB one, no EXIF rotation), the file's
    container is rewritten without its metadata segments and chunks, the compressed image data
    copied as it is: nothing is re-encoded and nothing is lost. Otherwise (a profile that is not
    sRGB, a rotation, or a structure this does not rewrite) the image is decoded, converted to
    sRGB, turned upright and re-encoded with no metadata: JPEG at q95, PNG and WebP losslessly.
    Raises `ImageRejected` for a file that is not a whole JPEG, PNG or WebP.
    """
    subject = _Subject.RESULT
    data = _read(source, max_bytes=max_bytes, subject=subject)
    im, fmt = _open(data, max_pixels=max_pixels, subject=subject)
    orientation = _orientation(im, fmt, subject)
    icc = im.info.get("icc_profile")
    if orientation == 1 and (not icc or _icc_is_srgb(icc)):
        stripped = _CONTAINER_STRIPS[fmt](data)
        if stripped is not None:
            return stripped
    _decode(im, fmt, draft=im.size, subject=subject)
    image = _finish(_workable(im), icc, orientation)
    if fmt == "JPEG":
        return _encode(image.convert("RGB"), "JPEG", quality=PUBLIC_JPEG_QUALITY, subsampling=0)
    if fmt == "WEBP":
        return _encode(image, "WEBP", lossless=True)
    return _encode(image, "PNG")


def _icc_is_srgb(icc: bytes) -> bool:
    """Whether stripping the profile leaves the colours as they were (an unreadable profile
    counts as sRGB, as everywhere else here: its pixels are taken as they are)."""
    try:
        return _is_srgb(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return True


def _jpeg_without_metadata(data: bytes) -> bytes | None:
    """The JPEG with only what decoding needs (tables, frame, scans, a bare JFIF header and
    Adobe's colour-transform marker), up to its end-of-image marker; None if it is malformed."""
    out = bytearray(b"\xff\xd8")
    pos, end = 2, len(data)
    while pos < end:
        if data[pos] != 0xFF:
            return None
        while pos < end and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= end:
            return None
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # end of image: whatever follows (appended data) is dropped
            return bytes(out + b"\xff\xd9")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out += bytes((0xFF, marker))
            continue
        if pos + 2 > end:
            return None
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            return None
        payload = data[pos + 2 : pos + length]
        segment = bytes((0xFF, marker)) + data[pos : pos + length]
        pos += length
        if marker == 0xDA:  # start of scan: the entropy-coded data runs to the next marker
            out += segment
            scan = pos
            while True:
                found = data.find(b"\xff", pos)
                if found < 0 or found + 1 >= end:
                    return None
                following = data[found + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart
                    pos = found + 2
                    continue
                out += data[scan:found]
                pos = found
                break
        elif marker == 0xE0:  # APP0: a bare JFIF header (density kept, thumbnail dropped)
            if payload.startswith(_JFIF) and len(payload) >= 12:
                out += b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00"
        elif marker == 0xEE:  # APP14 "Adobe": how to read the colour channels
            if payload.startswith(b"Adobe"):
                out += segment
        elif 0xE1 <= marker <= 0xEF or marker == 0xFE:  # EXIF, XMP, ICC, IPTC, C2PA, comments
            continue
        else:  # quantization and Huffman tables, the frame header, restart interval
            out += segment
    return None


def _png_without_metadata(data: bytes) -> bytes | None:
    """The PNG with only its image and rendering chunks, up to IEND; None if it is malformed
    or holds a critical chunk this does not know."""
    out = bytearray(data[:8])
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        stop = pos + 12 + length
        if stop > len(data):
            return None
        if kind in _PNG_KEEP:
            out += data[pos:stop]
        elif kind[:1].isupper():
            return None
        pos = stop
        if kind == b"IEND":
            return bytes(out)
    return None


def _webp_without_metadata(data: bytes) -> bytes | None:
    """The WebP without its ICCP, EXIF and XMP chunks (and their VP8X flags); None if the RIFF
    container is malformed."""
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        return None
    chunks = []
    pos = 12
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            return None
        chunk = data[pos : min(stop, end)]
        if kind == b"VP8X" and size >= 10:
            chunk = chunk[:8] + bytes((chunk[8] & ~_WEBP_METADATA_FLAGS,)) + chunk[9:]
        if kind in _WEBP_IMAGE_CHUNKS:
            chunks.append(chunk + (b"\x00" if len(chunk) % 2 else b""))
        pos = stop
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


_CONTAINER_STRIPS: dict[ImageFormat, Callable[[bytes], bytes | None]] = {
    "JPEG": _jpeg_without_metadata,
    "PNG": _png_without_metadata,
    "WEBP": _webp_without_metadata,
}
