"""Issue 13, the security sweep's low findings: each pinned by the test that showed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gallery.generation.models import Reference
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


# -- 6. an upload over the cap leaves no temporary file behind -----------------------------------


def test_an_upload_over_the_cap_leaves_no_temporary_file_behind(
    member_client: Client, media_storage: Path, settings: Any, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1  # straight to a temporary file, as a big one goes
    huge = png_bytes((24, 24)) + b"\0" * (2 * 1024 * 1024)
    files = [SimpleUploadedFile(f"huge-{n}.png", huge, "image/png") for n in range(3)]
    response = member_client.post("/references/upload/", {"uploads": files})
    assert response.status_code == 422
    # The request (and so its upload handlers) is still alive through the response: nothing
    # but garbage collection would have freed a file the handlers left open.
    assert response.wsgi_request.upload_handlers
    assert sorted(p.name for p in uploads.iterdir()) == []
    assert Reference.objects.count() == 0
