"""What a shared link gives people outside the team (issue 13, item 11): with downloads off,
previews at most 800 px wide; with downloads on, the original without the metadata it can
carry (EXIF with GPS, XMP, IPTC, ICC text, PNG text chunks, comments, appended data)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.test import Client
from PIL import ExifTags, Image

from gallery.generation.models import GalleryImage
from gallery.media import imaging
from gallery.sharing import services as sharing_services
from gallery.team.models import Membership
from tests.factories import make_item
from tests.gallery.test_imaging import encode, exif_with_gps, png_chunk, srgb_icc, swapped_icc

SECRET = b"SECRET"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description prompt="SECRET-XMP"/></x:xmpmeta>'


def _exif() -> Image.Exif:
    exif = exif_with_gps()
    exif[ExifTags.Base.ImageDescription] = "SECRET-EXIF a prompt nobody should read"
    return exif


def _with_app_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """``jpeg`` with one more APPn segment right after its start-of-image marker."""
    segment = bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def _assert_clean(clean: bytes) -> None:
    assert SECRET not in clean
    with Image.open(io.BytesIO(clean)) as image:
        assert len(image.getexif()) == 0
        assert "icc_profile" not in image.info and "xmp" not in image.info
        assert not getattr(image, "text", {})
    for marker in (b"Exif\x00\x00", b"ICC_PROFILE", b"iCCP", b"http://ns.adobe.com/xap"):
        assert marker not in clean


def photo(size: tuple[int, int] = (96, 64)) -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((200, 30, 30), (0, 0, size[0] // 3, size[1]))
    return image


def jpeg_with_everything() -> bytes:
    data = encode(
        photo(),
        "JPEG",
        quality=90,
        exif=_exif(),
        xmp=XMP,
        icc_profile=srgb_icc(),
        comment=b"SECRET-COMMENT",
    )
    data = _with_app_segment(data, 0xED, b"Photoshop 3.0\x00SECRET-IPTC")  # IPTC
    data = _with_app_segment(data, 0xEB, b"JP\x00\x00SECRET-C2PA-manifest")  # JUMBF / C2PA
    return data + b"SECRET-TRAILER appended after the image"


def test_a_jpeg_loses_its_metadata_and_keeps_its_exact_pixels() -> None:
    source = jpeg_with_everything()
    with Image.open(io.BytesIO(source)) as image:  # the input really carries it all
        assert image.getexif()[ExifTags.Base.Make] == "PhoneCo" and "icc_profile" in image.info
    clean = imaging.original_for_public(source)
    _assert_clean(clean)
    assert _pixels(clean) == _pixels(source)  # not re-encoded: the same scans, byte for byte
    assert len(clean) < len(source)


def test_a_png_loses_its_text_chunks_exif_and_profile_and_keeps_its_pixels() -> None:
    plain = encode(photo(), "PNG", icc_profile=srgb_icc(), exif=_exif())
    iend = plain.rindex(b"IEND") - 4
    chunks = (
        png_chunk(b"tEXt", b"parameters\x00SECRET-prompt")
        + png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
        + png_chunk(b"caBX", b"SECRET-C2PA")
    )
    source = plain[:iend] + chunks + plain[iend:] + b"SECRET-TRAILER"
    clean = imaging.original_for_public(source)
    _assert_clean(clean)
    assert _pixels(clean) == _pixels(source)


def test_a_webp_loses_its_exif_xmp_and_profile_and_keeps_its_pixels() -> None:
    source = encode(photo(), "WEBP", quality=80, exif=_exif(), xmp=XMP, icc_profile=srgb_icc())
    assert SECRET in source
    clean = imaging.original_for_public(source)
    _assert_clean(clean)
    assert _pixels(clean) == _pixels(source)


def test_a_profile_that_is_not_srgb_is_applied_then_dropped() -> None:
    source = encode(Image.new("RGB", (32, 32), (255, 0, 0)), "JPEG", icc_profile=swapped_icc())
    clean = imaging.original_for_public(source)
    _assert_clean(clean)
    red, _green, blue = Image.open(io.BytesIO(clean)).convert("RGB").getpixel((16, 16))  # type: ignore[misc]
    assert blue > 200 and red < 60  # the swapped profile meant blue: the colours are kept


def test_an_exif_rotation_is_applied_then_dropped() -> None:
    source = encode(photo((90, 40)), "JPEG", exif=exif_with_gps(orientation=6))
    clean = imaging.original_for_public(source)
    _assert_clean(clean)
    assert Image.open(io.BytesIO(clean)).size == (40, 90)


# -- through a shared link -----------------------------------------------------------------------


@pytest.fixture
def shared_image(team: Any, member: Any, media_storage: Path) -> GalleryImage:
    """A 1600x1200 result with its renditions (400, 800, 1600) and an original that carries
    metadata, in media storage."""
    generation = make_item(
        team, member, files=True, size=(1600, 1200), thumbnail_widths=(400, 800, 1600)
    )
    image = generation.image
    original = encode(photo((1600, 1200)), "JPEG", quality=85, exif=_exif(), xmp=XMP)
    storage = storages["default"]
    storage.delete(image.file.name)
    storage.save(image.file.name, io.BytesIO(original))
    image.sha256 = hashlib.sha256(original).hexdigest()
    image.save()
    return image


def _link(team: Any, member: Any, image: GalleryImage, **options: Any) -> str:
    created = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user=member),
        images=[image],
        expires_in_days=7,
        **options,
    )
    return f"/s/{created.token}/i/{image.public_id}"


@pytest.mark.django_db
def test_with_downloads_off_a_link_shows_at_most_800_px(
    team: Any, member: Any, shared_image: GalleryImage
) -> None:
    visitor = Client()
    closed = _link(team, member, shared_image, allow_download=False)
    preview = visitor.get(f"{closed}/preview/")
    assert preview.status_code == 200
    assert Image.open(io.BytesIO(b"".join(preview.streaming_content))).width == 800  # type: ignore[attr-defined]
    assert visitor.get(f"{closed}/download/").status_code == 404
    opened = _link(team, member, shared_image, allow_download=True)
    full = visitor.get(f"{opened}/preview/")
    assert Image.open(io.BytesIO(b"".join(full.streaming_content))).width == 1600  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_shared_download_has_no_metadata_and_the_teams_own_keeps_it(
    team: Any, member: Any, member_client: Client, shared_image: GalleryImage
) -> None:
    download = Client().get(f"{_link(team, member, shared_image)}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/jpeg"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    _assert_clean(b"".join(download.streaming_content))  # type: ignore[attr-defined]
    team_copy = member_client.get(f"/media/i/{shared_image.public_id}/original/")
    assert SECRET in b"".join(team_copy.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_share_form_says_what_downloads_off_means(
    member_client: Client, team: Any, member: Any, media_storage: Path
) -> None:
    image = make_item(team, member).image
    form = member_client.get("/links/new/", {"images": str(image.public_id)}).content.decode()
    assert "Off: people see each image at most 800 px wide" in form
    assert "Downloads come without the files&#x27; metadata." in form
