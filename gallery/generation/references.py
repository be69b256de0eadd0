"""Reference images: upload (verify, re-encode, de-duplicate), reuse of a gallery image,
and hosting them for Oxen.

Oxen must download every reference itself. Three ways are offered (``OXEN_REFERENCE_HOSTING``):

``inline``     (default) each reference travels inside the request as a ``data:`` URI,
               re-encoded under Seedream's per-image limits. Nothing to set up, nothing public.
``oxen-repo``  each reference is uploaded once to a public Oxen repository
               (``OXEN_REFERENCE_REPO``) and sent as its file URL. Smaller requests; the files
               stay in that repository's public history.
``signed-url`` the app serves each reference at a signed URL under ``SITE_URL`` that expires
               after two hours. Needs the app to be reachable from the internet."""

from __future__ import annotations

import hashlib
from typing import BinaryIO, cast

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage, Reference
from gallery.media import imaging
from gallery.oxen import client_config, get_client
from gallery.team.models import Membership, Team
from seedream import limits
from seedream.config import Secret, url_origin
from seedream.download import Downloader
from seedream.errors import OxenError

SIGNED_URL_MAX_AGE = 2 * 60 * 60
# Kept from the module's old name: changing it would invalidate every URL handed out.
_SIGNING_SALT = "gallery.references.signed-url"


def reference_from_image(*, membership: Membership, image: GalleryImage) -> Reference:
    """The team's reference for an (access-checked) gallery image's original; verified and
    re-encoded like any upload, and de-duplicated by content."""
    with image.file.open("rb") as handle:
        reference = reference_upload(
            team=membership.team,
            user=membership.user,
            upload=cast(BinaryIO, handle),
            name=f"seedream-{image.public_id}.{image.extension}",
        )
    # Remember where it came from (the first image it was made from, for lineage).
    if reference.source_image_id is None:
        Reference.objects.filter(pk=reference.pk, source_image__isnull=True).update(
            source_image=image
        )
        reference.source_image = image
    return reference


def reference_upload(*, team: Team, user: User, upload: BinaryIO, name: str = "") -> Reference:
    """Verify and re-encode an uploaded image, and return the team's row for its content.
    Raises ``ImageRejected`` for a file that is not an image, or one Seedream would refuse
    (checked now, while the person is at the form, not when the request reaches Oxen)."""
    normalized = imaging.reference_normalize(upload, max_bytes=settings.UPLOAD_MAX_BYTES)
    reference_check(width=normalized.width, height=normalized.height, size=len(normalized.data))
    existing = Reference.objects.filter(team=team, sha256=normalized.sha256).first()
    if existing:
        return existing
    reference = Reference(
        team=team,
        uploaded_by=user,
        sha256=normalized.sha256,
        format=normalized.format,
        width=normalized.width,
        height=normalized.height,
        bytes=len(normalized.data),
        original_name=_clean_name(name),
    )
    reference.file.save("upload", ContentFile(normalized.data), save=False)
    try:
        with transaction.atomic():
            reference.save()
    except IntegrityError:  # the same image uploaded at the same moment
        return Reference.objects.get(team=team, sha256=normalized.sha256)
    return reference


def reference_from_url(*, team: Team, user: User, url: str) -> Reference:
    """Fetch an image from a public https URL (the API's ``reference_urls``) and store it like
    an upload. The same rules as result downloads (``seedream.urlpolicy``): https only, no
    credentials, every address the host resolves to public and pinned for the connection,
    redirects re-checked hop by hop; never with the Oxen key, never to the Oxen host itself.
    Raises ``ImageRejected`` with a sentence for the person."""
    config = client_config()
    try:
        host = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    except IndexError:
        host = ""
    if not url.startswith("https://") or not host:
        raise imaging.ImageRejected(
            f"{url[:100]}: only https URLs are fetched.", code="not_an_image"
        )
    if url_origin(url) == config.oxen_origin:
        raise imaging.ImageRejected(
            f"{url[:100]}: this address is not fetched.", code="not_an_image"
        )
    fetch_config = config.replace(
        api_key=Secret(""),
        download_hosts=(host.lower(),),
        allow_loopback_http=False,
        download_max_bytes=settings.UPLOAD_MAX_BYTES,
        download_deadline=30.0,
    )
    try:
        result = Downloader(fetch_config).fetch(url)
    except OxenError as exc:
        raise imaging.ImageRejected(f"{url[:100]}: {exc}", code="not_an_image") from None
    except ValueError:
        raise imaging.ImageRejected(f"{url[:100]}: not a valid URL.", code="not_an_image") from None
    with result.file as handle:
        return reference_upload(
            team=team, user=user, upload=cast(BinaryIO, handle), name=url.rsplit("/", 1)[-1]
        )


def reference_check(*, width: int, height: int, size: int) -> None:
    """Seedream's per-image limits (``seedream.limits``) for a stored reference: its shape, and
    its size where the stored file itself is what Oxen downloads (inline hosting re-encodes
    it under the limit). Raises ``ImageRejected``."""
    imaging.reference_check_for_seedream(width, height)
    if settings.OXEN_REFERENCE_HOSTING != "inline" and size > limits.REFERENCE_MAX_BYTES:
        raise imaging.ImageRejected(
            f"This image is {size / 1_000_000:.1f} MB after re-encoding; Seedream takes at most "
            f"{limits.REFERENCE_MAX_BYTES // 1_000_000} MB per reference.",
            code="too_many_bytes",
        )


def _clean_name(name: str) -> str:
    return "".join(ch for ch in name if ch.isprintable())[:200]


def reference_bytes(reference: Reference) -> bytes:
    with reference.file.open("rb") as handle:
        data: bytes = handle.read()
    return data


def reference_value_for_oxen(reference: Reference) -> tuple[str, str]:
    """What to put in the request for this reference, and the marker kept in the record."""
    mode = settings.OXEN_REFERENCE_HOSTING
    if mode == "signed-url":
        url = reference_signed_url(reference)
        return url, url
    if mode == "oxen-repo":
        url = reference_repo_url(reference)
        return url, url
    data, mime = imaging.reference_for_oxen(reference_bytes(reference))
    digest = hashlib.sha256(data).hexdigest()
    return imaging.data_uri(data, mime), f"data:{mime};base64,…(sha256={digest}, {len(data)} bytes)"


def reference_signed_url(reference: Reference) -> str:
    token = signing.TimestampSigner(salt=_SIGNING_SALT).sign(str(reference.public_id))
    return settings.SITE_URL + reverse("reference-public", args=[token])


def reference_from_signed_token(token: str) -> Reference | None:
    try:
        public_id = signing.TimestampSigner(salt=_SIGNING_SALT).unsign(
            token, max_age=SIGNED_URL_MAX_AGE
        )
    except signing.BadSignature:
        return None
    return Reference.objects.filter(public_id=public_id).first()


def reference_repo_url(reference: Reference) -> str:
    """Upload a reference once to the public repo ``OXEN_REFERENCE_REPO`` and return its URL."""
    if reference.hosted_url:
        return reference.hosted_url
    namespace, _, repo = settings.OXEN_REFERENCE_REPO.partition("/")
    client = get_client()
    client.repo_create(namespace, repo, is_public=True, description="Seedream Gallery references")
    path = f"references/{reference.sha256}.{reference.extension}"
    result = client.file_upload(
        namespace, repo, path, reference_bytes(reference), content_type=reference.mime_type
    )
    url = result.pinned_url or result.url
    Reference.objects.filter(pk=reference.pk).update(hosted_url=url)
    return url
