"""gallery.media.imaging: upload and result checks, thumbnails, placeholders, Oxen references.

Every image is built in memory with Pillow. No test asserts a duration: "before decoding" is
shown by making any decode fail the test, and memory by a child process's peak RSS.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import blurhash
import pytest
from PIL import (
    ExifTags,
    Image,
    ImageChops,
    ImageCms,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from gallery.media import imaging
from gallery.media.imaging import ImageRejected
from seedream import limits

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------
# Builders


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def textured(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Photo-like content (smooth blobs plus fine grain), cheap to make at any size."""
    width, height = size
    bands = [
        Image.effect_noise((max(1, width // 16), max(1, height // 16)), 70).resize(
            size, Image.Resampling.BICUBIC
        )
        for _ in range(3)
    ]
    grain = Image.effect_noise(size, 12)
    image = Image.merge(
        "RGB", [ImageChops.add(band, grain, scale=1.0, offset=-128) for band in bands]
    )
    return image.convert(mode)


def split_image(size: tuple[int, int], left: str, right: str) -> Image.Image:
    """Left half one colour, right half another: shows which way an image was turned."""
    image = Image.new("RGB", size, left)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    return image


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 30.0)
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_icc() -> bytes:
    """sRGB with its red and blue primaries swapped (and renamed): unmistakably not sRGB."""
    icc = bytearray(srgb_icc())
    (count,) = struct.unpack_from(">I", icc, 128)
    entries = {}
    for index in range(count):
        signature, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * index)
        entries[signature] = (index, offset, size)
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    struct.pack_into(">4sII", icc, 132 + 12 * red[0], b"rXYZ", blue[1], blue[2])
    struct.pack_into(">4sII", icc, 132 + 12 * blue[0], b"bXYZ", red[1], red[2])
    return bytes(icc).replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be"))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of width x height: a few dozen KB that decode to GBs."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    rows_per_step = 1000
    idat = bytearray()
    for start in range(0, height, rows_per_step):
        idat += compressor.compress(row * min(rows_per_step, height - start))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", bytes(idat))
        + png_chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


def webp_header_only(width: int, height: int) -> bytes:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def hue(pixel: object) -> str:
    """The one strong channel ("red", "green" or "blue") when the other two are weak."""
    assert isinstance(pixel, tuple)
    names = [
        name for name, value in zip(("red", "green", "blue"), pixel[:3], strict=True) if value > 200
    ]
    weak = [value for value in pixel[:3] if value < 60]
    return names[0] if len(names) == 1 and len(weak) == 2 else "mixed"


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_no_metadata(data: bytes) -> None:
    image = decoded(data)
    assert len(image.getexif()) == 0
    assert "icc_profile" not in image.info
    assert "xmp" not in image.info
    for marker in (b"Exif\x00\x00", b"ICC_PROFILE", b"iCCP", b"http://ns.adobe.com/xap"):
        assert marker not in data


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 4096² q90 photo-like JPEG, as Seedream's 4K results are."""
    return encode(textured((4096, 4096)), "JPEG", quality=90)


@pytest.fixture
def jpeg_load_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every JPEG decode: after draft(), `size` is what libjpeg will produce."""
    sizes: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.load

    def load(self: JpegImagePlugin.JpegImageFile) -> object:
        if self.tile:  # only a real decode, not a no-op on an image already loaded
            sizes.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    return sizes


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any pixel data is decoded."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"decoded a {self.size} {self.format} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "load", refuse)


# --------------------------------------------------------------------------------------------
# sniff_format


@pytest.mark.parametrize(("fmt", "expected"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WEBP")])
def test_sniff_format_names_the_format_from_magic_bytes(fmt: str, expected: str) -> None:
    data = encode(Image.new("RGB", (8, 8)), fmt)
    assert imaging.sniff_format(data[:16]) == expected


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_sniff_format_refuses_other_image_formats(fmt: str) -> None:
    assert imaging.sniff_format(encode(Image.new("RGB", (8, 8)), fmt)) is None


@pytest.mark.parametrize("head", [b"", b"\xff\xd8", b"<!doctype html>", b"RIFF\0\0\0\0WAVEfmt "])
def test_sniff_format_refuses_short_and_foreign_heads(head: bytes) -> None:
    assert imaging.sniff_format(head) is None


# --------------------------------------------------------------------------------------------
# reference_normalize


def test_reference_strips_exif_gps_xmp_and_icc() -> None:
    source = encode(
        textured((64, 48)),
        "JPEG",
        exif=exif_with_gps(),
        xmp=b'<x:xmpmeta><rdf:Description exif:GPSLatitude="52,22N"/></x:xmpmeta>',
        icc_profile=srgb_icc(),
    )
    assert len(Image.open(io.BytesIO(source)).getexif()) > 0  # the test input really has it

    result = imaging.reference_normalize(source)

    assert result.format == "JPEG"
    assert_no_metadata(result.data)


def test_reference_converts_a_non_srgb_profile_to_srgb() -> None:
    source = encode(Image.new("RGB", (32, 32), (255, 0, 0)), "PNG", icc_profile=swapped_icc())

    result = imaging.reference_normalize(source)

    # Pure red in the swapped space is sRGB's blue.
    assert hue(decoded(result.data).getpixel((16, 16))) == "blue"
    assert_no_metadata(result.data)


def test_reference_with_an_srgb_profile_keeps_its_colours() -> None:
    source = encode(Image.new("RGB", (32, 32), (200, 120, 40)), "PNG", icc_profile=srgb_icc())

    pixel = decoded(imaging.reference_normalize(source).data).getpixel((16, 16))

    assert pixel == pytest.approx((200, 120, 40), abs=3)


def test_reference_with_a_broken_profile_is_kept_as_srgb() -> None:
    source = encode(Image.new("RGB", (32, 32), (10, 200, 10)), "PNG", icc_profile=b"not a profile")

    result = imaging.reference_normalize(source)

    assert decoded(result.data).getpixel((16, 16)) == pytest.approx((10, 200, 10), abs=3)
    assert_no_metadata(result.data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_reference_applies_exif_orientation(fmt: str) -> None:
    # Orientation 6: the camera was turned, so the stored left edge is the displayed top.
    source = encode(split_image((60, 30), "red", "blue"), fmt, exif=exif_with_gps(6))

    result = imaging.reference_normalize(source)

    image = decoded(result.data)
    assert (result.width, result.height) == image.size == (30, 60)
    assert hue(image.getpixel((15, 5))) == "red"
    assert hue(image.getpixel((15, 55))) == "blue"


def test_reference_reports_hash_size_and_type_of_the_reencoded_bytes() -> None:
    result = imaging.reference_normalize(encode(textured((120, 80)), "WEBP"))

    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.byte_size == len(result.data)
    assert (result.width, result.height) == decoded(result.data).size == (120, 80)
    assert (result.format, result.mime, result.extension) == ("JPEG", "image/jpeg", "jpg")


def test_reference_keeps_real_transparency_as_png() -> None:
    image = textured((40, 40), "RGBA")
    image.putalpha(Image.linear_gradient("L").resize((40, 40)))

    result = imaging.reference_normalize(encode(image, "PNG"))

    assert (result.format, result.mime) == ("PNG", "image/png")
    out = decoded(result.data)
    assert out.mode == "RGBA"
    assert out.getchannel("A").getextrema() == image.getchannel("A").getextrema()


def test_reference_png_output_carries_no_profile_or_text() -> None:
    # Pillow's PNG encoder copies an ICC profile from `info` unless it is emptied first.
    image = textured((40, 40), "RGBA")
    image.putalpha(100)
    text = PngImagePlugin.PngInfo()
    text.add_text("GPS", "52.37N 4.89E")
    source = encode(image, "PNG", icc_profile=srgb_icc(), pnginfo=text)

    result = imaging.reference_normalize(source)

    assert result.format == "PNG"
    assert_no_metadata(result.data)
    assert b"tEXt" not in result.data


def test_reference_with_an_opaque_alpha_channel_becomes_jpeg() -> None:
    result = imaging.reference_normalize(encode(textured((40, 40), "RGBA"), "PNG"))

    assert result.format == "JPEG"
    assert decoded(result.data).mode == "RGB"


@pytest.mark.parametrize(
    ("transparency", "expected"), [(0, "PNG"), (None, "JPEG")], ids=["transparent", "opaque"]
)
def test_reference_palette_images_keep_transparency_only_if_they_have_it(
    transparency: int | None, expected: str
) -> None:
    palette = textured((40, 40)).quantize(16)
    params = {} if transparency is None else {"transparency": transparency}

    result = imaging.reference_normalize(encode(palette, "PNG", **params))

    assert result.format == expected


def test_reference_16_bit_greyscale_keeps_its_tones() -> None:
    image = Image.new("I;16", (16, 16), 32768)  # mid grey in 16 bits

    out = decoded(imaging.reference_normalize(encode(image, "PNG")).data)

    assert out.getpixel((8, 8)) == pytest.approx((128, 128, 128), abs=2)


def test_reference_cmyk_jpeg_becomes_rgb() -> None:
    source = encode(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG")  # red ink

    out = decoded(imaging.reference_normalize(source).data)

    assert out.mode == "RGB"
    assert hue(out.getpixel((12, 12))) == "red"


def test_reference_is_shrunk_to_max_side_from_a_reduced_decode(
    jpeg_load_sizes: list[tuple[int, int]],
) -> None:
    source = encode(textured((2400, 1600)), "JPEG", quality=85)

    result = imaging.reference_normalize(source, max_side=300)

    assert (result.width, result.height) == decoded(result.data).size == (300, 200)
    assert jpeg_load_sizes[0] == (600, 400)  # DCT-scaled to 1/4, still >= 2x the target


def test_reference_accepts_bytes_paths_and_file_objects_alike(tmp_path: Path) -> None:
    source = encode(textured((50, 40)), "PNG")
    path = tmp_path / "upload.bin"
    path.write_bytes(source)
    file = io.BytesIO(source)
    file.seek(7)  # a half-read upload is still read from the start

    results = {
        imaging.reference_normalize(source).sha256,
        imaging.reference_normalize(path).sha256,
        imaging.reference_normalize(file).sha256,
    }

    assert len(results) == 1
    assert not file.closed  # the caller's file stays the caller's


def test_reference_closes_the_files_it_opens(tmp_path: Path) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(encode(textured((50, 40)), "JPEG"))
    open_before = len(os.listdir("/proc/self/fd"))

    for _ in range(5):
        imaging.reference_normalize(path)

    assert len(os.listdir("/proc/self/fd")) == open_before


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><html><body>Not found</body></html>",
        b'{"error": "expired"}',
        encode(Image.new("RGB", (8, 8)), "GIF"),
        encode(Image.new("RGB", (8, 8)), "BMP"),
        encode(Image.new("RGB", (8, 8)), "TIFF"),
    ],
    ids=["html", "json", "gif", "bmp", "tiff"],
)
def test_reference_accepts_only_jpeg_png_and_webp_by_content(data: bytes) -> None:
    with pytest.raises(ImageRejected, match=r"^This file is not a JPEG, PNG or WebP image\.$") as e:
        imaging.reference_normalize(data)
    assert e.value.code == "not_an_image"


def test_reference_png_with_html_smuggled_in_comes_out_clean() -> None:
    # Django's docs: a valid PNG followed by HTML passes Pillow's verification.
    payload = b"<html><script>alert(document.cookie)</script></html>"
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", payload.decode())
    source = encode(textured((40, 40)), "PNG", pnginfo=text) + payload

    result = imaging.reference_normalize(source)

    assert b"<script" not in result.data
    assert b"tEXt" not in result.data
    assert decoded(result.data).size == (40, 40)


def test_reference_png_signature_followed_by_html_is_damaged() -> None:
    source = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"

    with pytest.raises(ImageRejected, match=r"^This image is damaged and cannot be read\.$") as e:
        imaging.reference_normalize(source)
    assert e.value.code == "damaged"


def test_reference_truncated_jpeg_is_damaged() -> None:
    source = encode(textured((200, 200)), "JPEG")

    with pytest.raises(ImageRejected, match="damaged") as e:
        imaging.reference_normalize(source[: len(source) // 2])
    assert e.value.code == "truncated"


def test_reference_webp_with_a_broken_header_is_damaged() -> None:
    source = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 30

    with pytest.raises(ImageRejected, match=r"^This image is damaged and cannot be read\.$"):
        imaging.reference_normalize(source)


def test_reference_empty_file_is_rejected() -> None:
    with pytest.raises(ImageRejected, match=r"^This file is empty\.$"):
        imaging.reference_normalize(b"")


def test_reference_over_max_bytes_is_rejected_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    with path.open("wb") as file:
        file.truncate(25 * 1024 * 1024)  # sparse: 25 MB on paper, nothing in memory

    with pytest.raises(ImageRejected, match=r"^This file is 25 MB; the limit is 20 MB\.$") as e:
        imaging.reference_normalize(path)
    assert e.value.code == "too_many_bytes"


def test_reference_over_max_bytes_from_an_unseekable_stream_is_rejected() -> None:
    class Stream(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            buffer[:] = b"\xff" * len(buffer)
            return len(buffer)

    with pytest.raises(ImageRejected, match=r"^This file is over the 1 MB limit\.$"):
        imaging.reference_normalize(io.BufferedReader(Stream()), max_bytes=1024 * 1024)


def test_reference_png_bomb_is_rejected_from_its_header(no_decoding: None) -> None:
    bomb = png_bomb(20_000, 20_000)
    assert len(bomb) < 200_000  # the point of a bomb: tiny on disk

    with pytest.raises(ImageRejected, match=r"^This image is 400 MP; the limit is 40 MP\.$") as e:
        imaging.reference_normalize(bomb)
    assert e.value.code == "too_many_pixels"


def test_reference_just_over_the_pixel_cap_says_by_how_much(no_decoding: None) -> None:
    with pytest.raises(ImageRejected, match=r"^This image is 40.1 MP; the limit is 40 MP\.$"):
        imaging.reference_normalize(png_header_only(8000, 5001))


def test_reference_webp_bomb_is_rejected_before_libwebp_sees_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: object) -> None:
        raise AssertionError("the WebP decoder was created")

    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "_open", refuse)

    with pytest.raises(ImageRejected, match=r"^This image is 268.5 MP; the limit is 40 MP\.$"):
        imaging.reference_normalize(webp_header_only(16_384, 16_384))


def test_pixel_cap_leaves_pillows_global_state_alone() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)

    with pytest.raises(ImageRejected):
        imaging.reference_normalize(png_header_only(10_000, 10_000))
    imaging.reference_normalize(encode(textured((30, 30)), "PNG"))

    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)


def test_png_bomb_rejection_adds_little_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(20_000, 20_000))
    # Peak RSS from VmHWM: getrusage()'s ru_maxrss is inherited over fork and exec on Linux,
    # so the child would start at pytest's own peak and any growth would hide under it.
    child = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gallery.media.imaging import ImageRejected, reference_normalize\n"
        "def peak():\n"
        "    status = Path('/proc/self/status').read_text()\n"
        "    return int(status.split('VmHWM:')[1].split()[0])\n"
        "data = Path(sys.argv[1]).read_bytes()\n"
        "before = peak()\n"
        "try:\n"
        "    reference_normalize(data)\n"
        "except ImageRejected as exc:\n"
        "    print(exc.code)\n"
        "print(peak() - before)\n"
    )

    run = subprocess.run(
        [sys.executable, "-c", child, str(bomb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    code, added_kib = run.stdout.split()
    assert code == "too_many_pixels"
    assert int(added_kib) < 20 * 1024  # < 20 MB; decoding it would take 1.2 GB as RGB


# --------------------------------------------------------------------------------------------
# result_inspect


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_result_inspect_reports_format_size_hash_and_bytes(fmt: str) -> None:
    data = encode(textured((96, 64)), fmt)

    info = imaging.result_inspect(data)

    assert (info.format, info.width, info.height) == (fmt, 96, 64)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.byte_size == len(data)


def test_result_inspect_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "result.jpeg"
    path.write_bytes(encode(textured((64, 64)), "JPEG"))

    assert imaging.result_inspect(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_result_inspect_decodes_jpeg_at_one_eighth_scale(
    jpeg_load_sizes: list[tuple[int, int]],
) -> None:
    imaging.result_inspect(encode(textured((1024, 768)), "JPEG"))

    assert jpeg_load_sizes == [(128, 96)]


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, -2, -1], ids=lambda k: f"keep{k}")
def test_result_truncated_jpeg_is_rejected(progressive: bool, keep: float) -> None:
    data = encode(textured((256, 256)), "JPEG", quality=90, progressive=progressive)
    cut = data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)]

    with pytest.raises(ImageRejected, match=r"^The result file is truncated\.$") as e:
        imaging.result_inspect(cut)
    assert e.value.code == "truncated"


@pytest.mark.parametrize("drop", [1, 12, 100, 5000])
def test_result_truncated_png_is_rejected(drop: int) -> None:
    data = encode(textured((128, 128)), "PNG")

    with pytest.raises(ImageRejected, match=r"^The result file is truncated\.$"):
        imaging.result_inspect(data[:-drop])


@pytest.mark.parametrize("drop", [1, 100, 2000])
def test_result_truncated_webp_is_rejected(drop: int) -> None:
    data = encode(textured((128, 128)), "WEBP")

    with pytest.raises(ImageRejected, match=r"^The result file is truncated\.$"):
        imaging.result_inspect(data[:-drop])


def test_result_png_with_a_bad_checksum_is_damaged() -> None:
    data = bytearray(encode(textured((64, 64)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF

    with pytest.raises(ImageRejected, match=r"^The result file is damaged and cannot be read\.$"):
        imaging.result_inspect(bytes(data))


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head></html>",
        b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>",
        b'{"detail": "Signature expired"}',
        b"\xef\xbb\xbfupstream connect error or disconnect/reset before headers",
    ],
    ids=["html", "s3-xml", "json", "plain-text"],
)
def test_result_error_page_is_not_an_image(body: bytes) -> None:
    with pytest.raises(ImageRejected, match=r"^The result is not an image \(got text/HTML\)\.$"):
        imaging.result_inspect(body)


def test_result_other_binary_is_not_an_accepted_format() -> None:
    with pytest.raises(ImageRejected, match=r"^The result is not a JPEG, PNG or WebP image\.$"):
        imaging.result_inspect(encode(Image.new("RGB", (8, 8)), "GIF"))


def test_result_pixel_cap_applies_before_decoding(no_decoding: None) -> None:
    with pytest.raises(ImageRejected, match=r"^The result is 900 MP, over the 100 MP limit\.$"):
        imaging.result_inspect(png_header_only(30_000, 30_000))


def test_result_over_max_bytes_is_rejected() -> None:
    data = encode(textured((64, 64)), "PNG")

    with pytest.raises(
        ImageRejected, match=r"^The result file is .+ MB, over the .+ MB limit\.$"
    ) as e:
        imaging.result_inspect(data, max_bytes=len(data) - 1)
    assert e.value.code == "too_many_bytes"


def test_result_inspect_refuses_to_run_if_truncated_images_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)

    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        imaging.result_inspect(encode(textured((32, 32)), "JPEG"))


def test_result_size_is_as_displayed() -> None:
    data = encode(textured((80, 40)), "JPEG", exif=exif_with_gps(8))

    info = imaging.result_inspect(data)

    assert (info.width, info.height) == (40, 80)


# --------------------------------------------------------------------------------------------
# Thumbnails


def test_thumbnails_are_webp_at_each_smaller_width_with_the_aspect_kept() -> None:
    source = encode(textured((1200, 800)), "JPEG")

    thumbnails = imaging.thumbnails_make(source)

    # 1600 is skipped: never upscale. Smallest first.
    assert [(t.width, t.height) for t in thumbnails] == [(400, 267), (800, 533)]
    for thumbnail in thumbnails:
        image = decoded(thumbnail.data)
        assert image.format == "WEBP" == thumbnail.format
        assert image.size == (thumbnail.width, thumbnail.height)
        assert thumbnail.sha256 == hashlib.sha256(thumbnail.data).hexdigest()
        assert (thumbnail.mime, thumbnail.extension) == ("image/webp", "webp")


def test_thumbnails_of_a_small_image_are_one_at_its_own_size() -> None:
    thumbnails = imaging.thumbnails_make(encode(textured((300, 500)), "PNG"))

    assert [(t.width, t.height) for t in thumbnails] == [(300, 500)]


def test_thumbnail_width_equal_to_the_source_is_skipped() -> None:
    thumbnails = imaging.thumbnails_make(encode(textured((800, 600)), "JPEG"), (400, 800))

    assert [t.width for t in thumbnails] == [400]


def test_thumbnails_are_deterministic() -> None:
    source = encode(textured((900, 700)), "JPEG")

    first = imaging.thumbnails_make(source)
    second = imaging.thumbnails_make(io.BytesIO(source))

    assert [t.data for t in first] == [t.data for t in second]


def test_thumbnail_400_of_a_4096_jpeg_decodes_at_most_1024_square(
    big_jpeg: bytes, jpeg_load_sizes: list[tuple[int, int]]
) -> None:
    thumbnail = imaging.thumbnail_webp(big_jpeg, 400)

    assert (thumbnail.width, thumbnail.height) == (400, 400)
    ((width, height),) = jpeg_load_sizes
    assert width * height <= 1024 * 1024
    assert (width, height) == (512, 512)  # 1/8 DCT scale: the cheapest that is still >= 400


def test_thumbnails_decode_the_source_once_sized_for_the_largest(
    big_jpeg: bytes, jpeg_load_sizes: list[tuple[int, int]]
) -> None:
    thumbnails = imaging.thumbnails_make(big_jpeg)

    assert [t.width for t in thumbnails] == [400, 800, 1600]
    assert jpeg_load_sizes == [(2048, 2048)]


def test_thumbnail_webp_is_the_same_as_thumbnails_make_for_one_width(big_jpeg: bytes) -> None:
    (expected,) = imaging.thumbnails_make(big_jpeg, (400,))

    assert imaging.thumbnail_webp(big_jpeg, 400) == expected


def test_thumbnails_are_upright_and_carry_no_metadata() -> None:
    source = encode(
        split_image((1000, 500), "red", "blue"),
        "JPEG",
        exif=exif_with_gps(6),
        icc_profile=srgb_icc(),
    )

    thumbnails = imaging.thumbnails_make(source, (200, 400))

    assert [(t.width, t.height) for t in thumbnails] == [(200, 400), (400, 800)]
    for thumbnail in thumbnails:
        assert_no_metadata(thumbnail.data)
        image = decoded(thumbnail.data).convert("RGB")
        assert hue(image.getpixel((image.width // 2, 10))) == "red"


def test_thumbnails_keep_transparency() -> None:
    image = textured((600, 600), "RGBA")
    image.putalpha(Image.linear_gradient("L").resize((600, 600)))

    (thumbnail,) = imaging.thumbnails_make(encode(image, "PNG"), (300,))

    out = decoded(thumbnail.data)
    assert out.mode == "RGBA"
    assert out.getchannel("A").getextrema()[0] < 10


def test_thumbnails_reject_what_the_upload_checks_reject() -> None:
    with pytest.raises(ImageRejected, match="not a JPEG, PNG or WebP"):
        imaging.thumbnails_make(b"<html></html>")


@pytest.mark.parametrize("widths", [(), (0, 400), (-5,)])
def test_thumbnails_need_positive_widths(widths: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="widths"):
        imaging.thumbnails_make(encode(textured((50, 50)), "PNG"), widths)


def test_content_name_shards_by_hash_prefix() -> None:
    digest = hashlib.sha256(b"x").hexdigest()

    assert imaging.content_name(digest, 400, "webp") == f"{digest[:2]}/{digest[2:]}-400.webp"
    assert imaging.content_name(digest, 1600, ".WEBP").endswith("-1600.webp")


@pytest.mark.parametrize(
    ("digest", "ext"),
    [("../" + "a" * 61, "webp"), ("A" * 64, "webp"), ("a" * 63, "webp"), ("a" * 64, "we/bp")],
)
def test_content_name_refuses_anything_but_a_hash_and_an_extension(digest: str, ext: str) -> None:
    with pytest.raises(ValueError, match="not"):
        imaging.content_name(digest, 400, ext)


# --------------------------------------------------------------------------------------------
# Placeholders


def test_placeholder_is_a_valid_4x3_blurhash() -> None:
    placeholder = imaging.placeholder_make(encode(textured((400, 300)), "WEBP"))

    assert len(placeholder) == 1 + 1 + 4 + 2 * (4 * 3 - 1)  # size, max AC, DC, 11 AC
    assert blurhash.components(placeholder) == (4, 3)
    size_flag = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(placeholder[0])
    assert (size_flag % 9 + 1, size_flag // 9 + 1) == (4, 3)


def test_placeholder_of_a_portrait_image_has_more_rows_than_columns() -> None:
    placeholder = imaging.placeholder_make(encode(textured((300, 400)), "JPEG"))

    size_flag = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(placeholder[0])
    assert (size_flag % 9 + 1, size_flag // 9 + 1) == (3, 4)


def test_placeholder_is_the_reference_encoding_of_the_image_as_shown() -> None:
    image = textured((32, 24))
    rows = [[image.getpixel((x, y)) for x in range(32)] for y in range(24)]

    assert imaging.placeholder_make(image) == blurhash.encode(rows, 4, 3)


@pytest.mark.parametrize("seed", range(40))
def test_the_fast_blurhash_encoder_gives_the_reference_encoders_hash(seed: int) -> None:
    """The app's encoder sums the cosine basis one axis at a time (issue 15: ~7x faster than
    the reference Python encoder); on these images it gives the reference's hash exactly."""
    rng = random.Random(seed)
    width, height = rng.choice([(32, 24), (24, 32), (32, 32), (32, 18), (20, 32), (1, 32)])
    if seed % 3 == 0:
        image = textured((width, height))
    else:
        noise = Image.effect_noise((width, height), rng.randint(5, 120)).convert("L")
        flat = Image.new("L", (width, height), rng.randint(0, 255))
        image = Image.merge("RGB", [noise, noise.transpose(Image.Transpose.ROTATE_180), flat])
    x_components, y_components = (4, 3) if width >= height else (3, 4)
    rows = [[image.getpixel((x, y)) for x in range(width)] for y in range(height)]

    expected = blurhash.encode(rows, x_components, y_components)
    assert imaging._blurhash_encode(image, x_components, y_components) == expected


def test_placeholder_leaves_a_pillow_image_open_and_unchanged() -> None:
    image = textured((200, 100))
    before = image.tobytes()

    imaging.placeholder_make(image)

    assert image.tobytes() == before  # would raise if the image had been closed


def test_placeholder_colour_is_the_average_colour() -> None:
    placeholder = imaging.placeholder_make(
        encode(Image.new("RGB", (64, 48), (200, 100, 50)), "PNG")
    )

    colour = imaging.placeholder_colour(placeholder)

    assert len(colour) == 7
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    assert channels == pytest.approx([200, 100, 50], abs=2)


def test_placeholder_of_a_transparent_image_is_over_white() -> None:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))

    colour = imaging.placeholder_colour(imaging.placeholder_make(encode(image, "PNG")))

    assert colour == "#ffffff"


@pytest.mark.parametrize("value", ["", "abc", "LEHV6nWB2yk8pyo0adR*.7kC\x00"])
def test_placeholder_colour_refuses_a_non_blurhash(value: str) -> None:
    with pytest.raises(ValueError, match="not a blurhash"):
        imaging.placeholder_colour(value)


# --------------------------------------------------------------------------------------------
# reference_for_oxen and data_uri


def oxen_ready(data: bytes) -> Image.Image:
    image = decoded(data)
    assert len(data) <= limits.REFERENCE_MAX_BYTES
    assert min(image.size) > 14
    assert max(image.size) <= 6000
    assert max(image.size) <= limits.REFERENCE_MAX_ASPECT * min(image.size)
    return image


def test_oxen_reference_is_downscaled_under_the_limits(big_jpeg: bytes) -> None:
    data, mime = imaging.reference_for_oxen(big_jpeg)

    image = oxen_ready(data)
    assert (mime, image.format) == ("image/jpeg", "JPEG")
    assert image.size == (2048, 2048)
    assert len(data) <= imaging.OXEN_TARGET_BYTES
    assert_no_metadata(data)


def test_oxen_reference_steps_down_until_under_the_target() -> None:
    noisy = encode(Image.effect_noise((2400, 1600), 100).convert("RGB"), "PNG")

    data, _ = imaging.reference_for_oxen(noisy, target_bytes=400_000)

    image = oxen_ready(data)
    assert len(data) <= 400_000
    assert image.width < 2048  # quality alone was not enough; it got smaller
    assert image.width / image.height == pytest.approx(1.5, abs=0.01)


def test_oxen_reference_with_transparency_stays_png() -> None:
    image = textured((300, 200), "RGBA")
    image.putalpha(128)

    data, mime = imaging.reference_for_oxen(encode(image, "PNG"))

    assert mime == "image/png"
    assert oxen_ready(data).mode == "RGBA"


@pytest.mark.parametrize("size", [(14, 100), (100, 14), (10, 10)])
def test_oxen_reference_with_a_side_of_14_px_or_less_is_rejected(size: tuple[int, int]) -> None:
    with pytest.raises(ImageRejected, match=r"both sides to be larger than 14 px") as e:
        imaging.reference_for_oxen(encode(textured(size), "PNG"))
    assert e.value.code == "too_small"


def test_oxen_reference_of_15_px_is_accepted() -> None:
    data, _ = imaging.reference_for_oxen(encode(textured((15, 15)), "PNG"))

    assert decoded(data).size == (15, 15)


@pytest.mark.parametrize(
    ("size", "shape"), [((1700, 100), "17:1"), ((30, 500), "1:16.7")], ids=["wide", "tall"]
)
def test_oxen_reference_outside_1_16_to_16_1_is_rejected_not_cropped(
    size: tuple[int, int], shape: str
) -> None:
    with pytest.raises(ImageRejected) as e:
        imaging.reference_for_oxen(encode(textured(size), "JPEG"))
    assert e.value.code == "bad_aspect"
    assert f"({shape})" in e.value.message
    assert "from 1:16 to 16:1" in e.value.message


@pytest.mark.parametrize("size", [(48, 300), (300, 48), (1600, 100)])
def test_oxen_reference_within_1_16_to_16_1_is_accepted(size: tuple[int, int]) -> None:
    data, _ = imaging.reference_for_oxen(encode(textured(size), "JPEG"))

    assert oxen_ready(data).size == size


def test_oxen_reference_shape_is_judged_as_displayed() -> None:
    source = encode(textured((20, 400)), "JPEG", exif=exif_with_gps(6))  # shown 400x20

    with pytest.raises(ImageRejected, match=r"^This image is 400x20 px \(20:1\)"):
        imaging.reference_for_oxen(source)


@pytest.mark.parametrize("max_side", [14, 6001])
def test_oxen_max_side_must_be_within_seedreams_limits(max_side: int) -> None:
    with pytest.raises(ValueError, match="max_side"):
        imaging.reference_for_oxen(encode(textured((50, 50)), "PNG"), max_side=max_side)


def test_oxen_reference_of_exactly_16_to_1_stays_within_after_rounding() -> None:
    data, _ = imaging.reference_for_oxen(encode(textured((3200, 200)), "JPEG"), max_side=2047)

    image = oxen_ready(data)
    assert image.width == 2047


def test_data_uri_embeds_the_bytes_as_base64() -> None:
    assert imaging.data_uri(b"\xff\xd8\xff", "image/jpeg") == "data:image/jpeg;base64,/9j/"


def test_data_uri_refuses_other_types() -> None:
    with pytest.raises(ValueError, match="text/html"):
        imaging.data_uri(b"<html>", "text/html")


def test_functions_never_use_the_global_decompression_bomb_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A caller's cap is what counts, even if someone lowered Pillow's global limit.
    source = encode(textured((64, 64)), "JPEG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)

    assert imaging.result_inspect(source).width == 64
    assert imaging.thumbnails_make(source)[0].width == 64
