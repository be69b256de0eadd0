"""Defects found in the security review, each pinned by the test that showed it."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client

from gallery.accounts.models import User
from gallery.generation.models import Reference
from gallery.logging import RedactSecretsFilter
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add
from tests.conftest import png_bytes
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def _png(name: str, shade: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes((24, 24), (shade, 90, 90)), "image/png")


# -- uploads -------------------------------------------------------------------------------------


def test_more_uploads_than_any_request_can_use_are_refused_before_any_is_stored(
    member_client: Client, media_storage: Path
) -> None:
    response = member_client.post(
        "/references/upload/", {"uploads": [_png(f"{i}.png", i * 15) for i in range(15)]}
    )
    assert response.status_code == 422
    assert "at most 14 reference images; you have 15. Remove 1." in response.content.decode()
    assert Reference.objects.count() == 0


def test_uploads_past_the_reference_cap_are_not_stored(
    member_client: Client, make_reference: Callable[..., Reference]
) -> None:
    chosen = [make_reference((i * 16, 30, 30)) for i in range(14)]
    response = member_client.post(
        "/generate/",
        {
            "prompt": "too many",
            "batch_size": "1",
            "reference": [str(r.public_id) for r in chosen],
            "uploads": [_png("one-more.png", 250)],
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "at most 14 reference images; you have 15. Remove 1." in html
    assert Reference.objects.count() == 14  # the extra upload was not decoded or stored
    assert "too many</textarea>" in html


def test_an_oversized_upload_stops_being_stored_at_the_cap(
    member_client: Client, media_storage: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1  # straight to a temporary file, as a big one goes
    stored = {"bytes": 0}
    original = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self: TemporaryFileUploadHandler, raw_data: bytes, start: int) -> Any:
        stored["bytes"] += len(raw_data)
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    huge = png_bytes((24, 24)) + b"\0" * (4 * 1024 * 1024)
    response = member_client.post(
        "/references/upload/", {"uploads": [SimpleUploadedFile("huge.png", huge, "image/png")]}
    )
    assert response.status_code == 422
    assert "huge.png: this file is larger than 1 MB." in response.content.decode()
    assert stored["bytes"] <= settings.UPLOAD_MAX_BYTES  # not the 4 MB that was sent
    assert Reference.objects.count() == 0
    # A file under the cap still goes through the usual handlers.
    ok = member_client.post("/references/upload/", {"uploads": [_png("ok.png", 10)]})
    assert ok.status_code == 200 and Reference.objects.count() == 1


# -- the detail page -----------------------------------------------------------------------------


def test_the_detail_page_does_not_list_siblings_the_review_policy_hides(
    team: Team, member: User, make_user: Callable[..., User]
) -> None:
    team.pending_visible_to_team = False
    team.save()
    shown = make_item(team, member, review_state="approved")
    hidden = make_item(team, member, review_state="rejected")
    # Two images of one request: move the hidden one under the shown one's request.
    hidden.request = shown.request
    hidden.index = 1
    hidden.save()
    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    client = Client()
    client.force_login(colleague)
    assert client.get(f"/items/{hidden.public_id}/").status_code == 404
    html = client.get(f"/items/{shown.public_id}/").content.decode()
    assert str(hidden.public_id) not in html
    # The author still sees both.
    author = Client()
    author.force_login(member)
    assert str(hidden.public_id) in author.get(f"/items/{shown.public_id}/").content.decode()


# -- logs ----------------------------------------------------------------------------------------


def test_a_logged_traceback_does_not_carry_the_key(settings: Any) -> None:
    settings.OXEN_API_KEY = "sk-traceback-secret-0123456789"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"upstream refused Bearer {settings.OXEN_API_KEY}")
        except RuntimeError:
            logger.exception("submit failed for key %s", settings.OXEN_API_KEY)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "RuntimeError: upstream refused Bearer [redacted]" in output
    assert "submit failed for key [redacted]" in output
    assert "sk-traceback-secret" not in output
