"""Deterministic result images and the deliberately bad bodies used by pipeline tests.

A result takes its palette from a hash of the prompt (so one prompt's images look related) and
its composition (gradient angle, shapes) from a hash of a *variation*, the generation id, so the
images of a batch and of a re-run differ the way a real model's do. It shows the prompt text, a
labelled thumbnail of every reference (Image1, Image2, ...) and the variation's short code, so
a person can tell results apart at a glance. The same prompt, variation, references, size and
watermark always give the same bytes: downloading one generation twice gives one file.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

PRESET_EDGE = {"2K": 2048, "4K": 4096}
SMALL_EDGE = {"2K": 256, "4K": 512}
REFERENCE_THUMB_EDGE = 512
_COLUMNS = 7  # reference thumbnails per row; 14 references make two rows

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def output_dimensions(size: str, image_size: str) -> tuple[int, int]:
    """Pixel dimensions for a size preset; "small" keeps tests fast (2K -> 256, 4K -> 512);
    "preset" and "photo" are the real sizes."""
    edge = (SMALL_EDGE if image_size == "small" else PRESET_EDGE)[size]
    return edge, edge


@dataclass(frozen=True)
class ReferenceThumb:
    """A reference image as the renderer needs it: a JPEG thumbnail, or None if unavailable."""

    label: str
    digest: str
    jpeg: bytes | None


def reference_thumb(label: str, image: Image.Image, digest: str) -> ReferenceThumb:
    """Shrink a decoded reference to a small JPEG (kept per generation instead of the original)."""
    thumb = ImageOps.exif_transpose(image).convert("RGB")
    thumb.thumbnail((REFERENCE_THUMB_EDGE, REFERENCE_THUMB_EDGE))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85)
    return ReferenceThumb(label=label, digest=digest, jpeg=out.getvalue())


def render_key(
    prompt: str,
    size: str,
    image_size: str,
    watermark: bool,
    refs: list[ReferenceThumb],
    variation: str = "",
) -> str:
    """The cache key of a render: everything that changes its bytes, and nothing else."""
    digest = hashlib.sha256()
    parts = (prompt, size, image_size, str(watermark), variation, *[r.digest for r in refs])
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _font(size: int) -> Font:
    return ImageFont.load_default(size=max(8, size))


def _text_height(font: Font) -> int:
    return int(font.getbbox("Ag")[3])


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: Font, width: int, max_lines: int
) -> list[str]:
    """Greedy word wrap by rendered width, ending with an ellipsis if the text does not fit."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines:
            break
    if current and len(lines) < max_lines:
        lines.append(current)
    if len(lines) == max_lines and " ".join(lines) != " ".join(text.split()):
        lines[-1] = lines[-1][: max(1, len(lines[-1]) - 1)] + "…"
    return lines


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    return [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(6)]


def _background(edge: int, rng: random.Random, palette: list[tuple[int, int, int]]) -> Image.Image:
    gradient = Image.linear_gradient("L").rotate(
        rng.randrange(360), resample=Image.Resampling.BICUBIC
    )
    gradient = gradient.crop((32, 32, 224, 224)).resize((edge, edge), Image.Resampling.BICUBIC)
    return ImageOps.colorize(gradient, palette[0], palette[1]).convert("RGB")


def _shapes(image: Image.Image, rng: random.Random, palette: list[tuple[int, int, int]]) -> None:
    edge = image.width
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(10):
        colour = (*palette[rng.randrange(2, len(palette))], rng.randrange(90, 200))
        x, y = rng.randrange(edge), rng.randrange(edge)
        radius = rng.randrange(edge // 16, edge // 4)
        box = (x - radius, y - radius, x + radius, y + radius)
        kind = rng.randrange(3)
        if kind == 0:
            draw.ellipse(box, fill=colour)
        elif kind == 1:
            draw.rectangle(box, fill=colour)
        else:
            points = [
                (x + rng.randrange(-radius, radius), y + rng.randrange(-radius, radius))
                for _ in range(3)
            ]
            draw.polygon(points, fill=colour)


def _prompt_panel(image: Image.Image, prompt: str) -> None:
    edge = image.width
    draw = ImageDraw.Draw(image, "RGBA")
    font = _font(edge // 24)
    margin = edge // 32
    lines = _wrap(draw, prompt, font, edge - 4 * margin, max_lines=6)
    line_height = int(_text_height(font) * 1.3)
    height = line_height * max(1, len(lines)) + 2 * margin
    draw.rectangle((margin, margin, edge - margin, margin + height), fill=(0, 0, 0, 150))
    for index, line in enumerate(lines):
        draw.text((2 * margin, 2 * margin + index * line_height), line, font=font, fill="white")


def _reference_strip(image: Image.Image, refs: list[ReferenceThumb]) -> None:
    if not refs:
        return
    edge = image.width
    margin = edge // 32
    cell = (edge - 2 * margin) // _COLUMNS
    font = _font(cell // 6)
    rows = (len(refs) + _COLUMNS - 1) // _COLUMNS
    top = edge - margin - rows * cell - edge // 20
    draw = ImageDraw.Draw(image, "RGBA")
    for index, ref in enumerate(refs):
        left = margin + (index % _COLUMNS) * cell
        upper = top + (index // _COLUMNS) * cell
        pad = max(2, cell // 16)
        box = (left + pad, upper + pad, left + cell - pad, upper + cell - pad)
        draw.rectangle(box, fill=(255, 255, 255, 220))
        inner = (box[2] - box[0] - 2 * pad, box[3] - box[1] - 2 * pad - cell // 5)
        if ref.jpeg is not None and inner[0] > 0 and inner[1] > 0:
            with Image.open(io.BytesIO(ref.jpeg)) as thumb:
                fitted = ImageOps.contain(thumb.convert("RGB"), inner)
            image.paste(fitted, (box[0] + pad, box[1] + pad))
        else:
            draw.line((box[0], box[1], box[2], box[3]), fill=(200, 0, 0, 255), width=pad)
        draw.text((box[0] + pad, box[3] - pad - cell // 5), ref.label, font=font, fill="black")


def _footer(image: Image.Image, size: str, watermark: bool, variation: str) -> None:
    edge = image.width
    draw = ImageDraw.Draw(image, "RGBA")
    font = _font(edge // 48)
    margin = edge // 64
    code = f" · #{variation[:6]}" if variation else ""
    label = f"OXEN SIMULATOR · seedream-4-5 · {size}{code}"
    draw.text((margin, edge - margin - _text_height(font)), label, font=font, fill="white")
    if watermark:
        text = "AI generated"
        width = int(draw.textlength(text, font=font))
        draw.text((edge - margin - width, margin), text, font=font, fill=(255, 255, 255, 230))


def _noise(size: tuple[int, int], rng: random.Random, spread: int) -> Image.Image:
    """Seeded noise around mid-grey, +-``spread`` (``Image.effect_noise`` cannot be seeded,
    and a render must give the same bytes every time)."""
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    low = 128 - spread
    return raw.point([low + (value * 2 * spread) // 255 for value in range(256)])


def _photo_texture(image: Image.Image, rng: random.Random) -> Image.Image:
    """Detail at three scales and a fine grain over the drawing, so the JPEG holds as much
    information as a photograph's (and costs as much to decode) instead of flat areas."""
    edge = image.width
    for cells, spread, weight in ((8, 110, 0.6), (64, 80, 0.5), (256, 60, 0.4)):
        bands = [
            _noise((cells, cells), rng, spread).resize((edge, edge), Image.Resampling.BICUBIC)
            for _ in range(3)
        ]
        texture = ImageChops.overlay(image, Image.merge("RGB", bands))
        image = Image.blend(image, texture, weight)
    grain = _noise((edge, edge), rng, 6)
    return ImageChops.overlay(image, Image.merge("RGB", (grain, grain, grain)))


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).digest()
    return random.Random(int.from_bytes(digest[:8]))  # noqa: S311 - decoration, not security


def render_result(
    prompt: str,
    size: str,
    image_size: str,
    watermark: bool,
    refs: list[ReferenceThumb],
    variation: str = "",
) -> bytes:
    """Draw the JPEG for a generation. Pure: equal inputs give equal bytes.

    ``variation`` (the generation id) changes the composition but not the palette, so the
    images of one prompt look related and still differ from one generation to the next.
    """
    palette = _palette(_rng(prompt))
    layout = _rng(prompt, variation)
    edge, _ = output_dimensions(size, image_size)
    image = _background(edge, layout, palette)
    _shapes(image, layout, palette)
    _prompt_panel(image, prompt)
    _reference_strip(image, refs)
    _footer(image, size, watermark, variation)
    if image_size == "photo":
        image = _photo_texture(image, layout)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


class RenderCache:
    """Rendered results by :func:`render_key`, bounded by total bytes (least recently used out)."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        # One lock per key being rendered, so concurrent downloads render once.
        self._rendering: dict[str, threading.Lock] = {}

    def get_or_render(
        self,
        prompt: str,
        size: str,
        image_size: str,
        watermark: bool,
        refs: list[ReferenceThumb],
        *,
        variation: str = "",
    ) -> bytes:
        """Return the cached JPEG for these inputs, rendering it the first time."""
        key = render_key(prompt, size, image_size, watermark, refs, variation)
        with self._lock:
            cached = self._lookup(key)
            if cached is not None:
                return cached
            key_lock = self._rendering.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                cached = self._lookup(key)
            if cached is not None:
                return cached
            data = render_result(prompt, size, image_size, watermark, refs, variation)
            with self._lock:
                self._store(key, data)
                self._rendering.pop(key, None)
            return data

    def clear(self) -> None:
        """Forget every rendered image."""
        with self._lock:
            self._items.clear()
            self._total = 0

    def _lookup(self, key: str) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def _store(self, key: str, data: bytes) -> None:
        if key in self._items:
            return
        self._items[key] = data
        self._total += len(data)
        while self._total > self._max_bytes and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self._total -= len(evicted)


# --- bad results -------------------------------------------------------------------------------

WRONG_FORMAT_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n"
    b"<body><h1>Service Unavailable</h1><p>The object is temporarily unavailable.</p></body>"
    b"</html>\n"
)


def truncated(jpeg: bytes) -> bytes:
    """The first half of a JPEG: a valid start, no end-of-image marker."""
    return jpeg[: len(jpeg) // 2]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=4)
def decompression_bomb_png(width: int, height: int) -> bytes:
    """A real, valid 1-bit greyscale PNG of ``width`` x ``height`` that is tiny on disk.

    30000x30000 compresses to about 110 KB; decoding it would need 900 MP, which Pillow refuses
    at ``open()`` (DecompressionBombError), as a careful pipeline must.
    """
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits, all black
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def oversized_stream(jpeg: bytes, total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A real JPEG followed by zero padding up to ``total`` bytes, produced lazily."""
    yield jpeg[:total]
    remaining = total - min(len(jpeg), total)
    filler = b"\x00" * chunk
    while remaining > 0:
        piece = filler if remaining >= chunk else filler[:remaining]
        remaining -= len(piece)
        yield piece
