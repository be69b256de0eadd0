"""No secret in any log line (issue 13, item 1): the app's real processes (``bin/run``: gunicorn
with its access log, the Celery worker, beat, the listener and the simulator, which fetches
the references at their signed ``/r/`` URLs) serve a shared link, an invitation and a
reference URL, and then neither the tokens nor the Oxen key appear anywhere in their output,
while the requests themselves are logged (with the token redacted)."""

from __future__ import annotations

import html
import io
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from gallery.logging import redact
from tests.run_app import RunningApp, running_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("run-command")]
# A secret link's path in a log line, token and all: anything but the redaction marker.
UNREDACTED = re.compile(r"(?:^|[\s\"'=(]|://[^/\s\"']+)/(?:s|join|r)/(?!\[redacted\])[^/\s\"']+")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def _post(app: RunningApp, client: httpx.Client, path: str, **kwargs: object) -> httpx.Response:
    headers = {"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{app.base}{path}"}
    return client.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]


def _generate_one_image(app: RunningApp, client: httpx.Client) -> str:
    """Generate one image from an uploaded reference; the image's public id once it is done."""
    page = client.get("/generate/")
    assert page.status_code == 200, page.text[:2000]
    fields = {"prompt": "a lighthouse in the fog, like @Image1", "batch_size": "1"}
    # The model's own parameters, as the form renders them with their defaults.
    for name, value in re.findall(
        r'<select name="([a-z_]+)"[^>]*>\s*<option value="([^"]*)"', page.text
    ):
        fields.setdefault(name, value)
    response = _post(
        app,
        client,
        "/generate/",
        data=fields,
        files={"uploads": ("reference.png", _png(), "image/png")},
    )
    assert response.status_code == 302, response.text[:3000]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        grid = client.get("/").text
        done = re.search(r'data-status="succeeded"', grid)
        failed = re.search(r'tile-error">([^<]*)', grid)
        assert not failed, failed.group(1) if failed else ""
        if done:
            item = re.search(r'href="/items/([0-9a-f-]{36})/"', grid)
            assert item
            detail = client.get(f"/items/{item.group(1)}/").text
            # Every action on the image itself names it: /images/<id>/favourite/, …
            image = re.search(r"/images/([0-9a-f-]{36})/", detail)
            assert image, detail[:3000]
            return image.group(1)
        time.sleep(1)
    raise AssertionError("the generation did not finish:\n" + app.output()[-3000:])


def test_no_token_or_key_in_any_log_of_a_real_run(tmp_path: Path) -> None:
    with running_app(tmp_path, OXEN_REFERENCE_HOSTING="signed-url") as app:
        keys = app.environment_values("OXEN_API_KEY")
        assert len(keys) == 1, keys
        oxen_key = keys.pop()
        with httpx.Client(base_url=app.base, timeout=20) as member:
            assert app.login(member, "admin", app.admin_password()).status_code == 302
            image_id = _generate_one_image(app, member)

            created = _post(
                app,
                member,
                "/links/new/",
                data={"images": image_id, "create": "1", "expires_in_days": "7"},
            )
            share = re.search(r"/s/([A-Za-z0-9_-]{40,})/", created.text)
            assert share, created.text[:3000]
            invited = _post(app, member, "/team/invitations/", data={"role": "member", "days": "7"})
            invitation = re.search(r"/join/([A-Za-z0-9_-]{40,})/", invited.text)
            assert invitation, invited.text[:3000]
            share_token, invitation_token = share.group(1), invitation.group(1)

        with httpx.Client(base_url=app.base, timeout=20) as visitor:
            page = visitor.get(f"/s/{share_token}/")
            assert page.status_code == 200
            # The preview: a signed /media/l/ URL (a /s/…/preview/ one without a thumbnail).
            preview = re.search(r'<img src="(/(?:s|media/l)/[^"]+)"', page.text)
            assert preview, page.text[:2000]
            referer = {"Referer": f"{app.base}/s/{share_token}/"}
            src = html.unescape(preview.group(1))
            assert visitor.get(src, headers=referer).status_code == 200
            # Answers Django logs with the path: "Not Found: /s/<token>/i/…", "Gone", …
            missing = f"/s/{share_token}/i/{uuid.uuid4()}/preview/"
            assert visitor.get(missing, headers=referer).status_code == 404
            assert visitor.get(f"/s/{share_token}x/").status_code == 404
            assert visitor.get(f"/join/{invitation_token}/").status_code == 200
            assert visitor.get(f"/join/{invitation_token}x/").status_code == 404
            assert visitor.get("/r/forged-reference-token:abc/").status_code == 404
            # A login redirect carries the token in ?next= too.
            visitor.get(f"/accounts/login/?next=/join/{invitation_token}/")

    output = app.output()
    for secret in (share_token, invitation_token, oxen_key):
        assert secret not in output, f"{secret[:6]}… is in the log"
    leaks = [line for line in output.splitlines() if UNREDACTED.search(line)]
    assert leaks == []
    # The requests were logged, by gunicorn and by Django, with the token hidden; the
    # simulator fetched the reference at its signed URL.
    assert re.search(r'"GET /s/\[redacted\]/ HTTP/1\.1" 200', output)
    assert re.search(r'"GET /join/\[redacted\]/ HTTP/1\.1" 200', output)
    assert re.search(r'"GET /r/\[redacted\]/ HTTP/1\.1" 200', output), output[-4000:]
    assert "Not Found: /s/[redacted]/i/" in output
    assert f'"{app.base}/s/[redacted]/"' in output  # the Referer


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1 - - [01/Dec/2026] "GET /s/AbC-123_xyz/ HTTP/1.1" 200 512 '
            '"http://example.org:8000/s/AbC-123_xyz/" "Mozilla"',
            '127.0.0.1 - - [01/Dec/2026] "GET /s/[redacted]/ HTTP/1.1" 200 512 '
            '"http://example.org:8000/s/[redacted]/" "Mozilla"',
        ),
        ("Not Found: /s/tok/i/1234/preview/", "Not Found: /s/[redacted]/i/1234/preview/"),
        ("Gone: /join/Tok3n/", "Gone: /join/[redacted]/"),
        ("GET /r/3f2a:1v:sig/ 200", "GET /r/[redacted]/ 200"),
        ("GET /accounts/login/?next=/join/tok/", "GET /accounts/login/?next=/join/[redacted]/"),
        ("next=%2Fjoin%2Ftok%2F", "next=%2Fjoin%2F[redacted]%2F"),
        # An API token (issue 12), wherever it turns up.
        ("Authorization: Bearer sg_" + "a1B2-_" * 7 + "x", "Authorization: Bearer [redacted]"),
        # Paths that only contain such a segment are left alone.
        ("GET /media/r/0d4c/ 200", "GET /media/r/0d4c/ 200"),
        ("GET /links/s/ 404", "GET /links/s/ 404"),
    ],
)
def test_redaction_hides_the_token_of_every_secret_link_path(line: str, expected: str) -> None:
    assert redact(line) == expected
    assert UNREDACTED.search(expected) is None
