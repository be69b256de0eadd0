"""References served by the app itself at signed, expiring URLs (``signed-url`` hosting):
Oxen (here the simulator) downloads them from ``SITE_URL``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gallery.accounts.models import User
from gallery.generation import references
from gallery.generation.create import generation_request_create
from gallery.generation.models import Generation, Reference
from gallery.oxen import get_schema
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import drive

pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_reference_urls_are_fetched_by_oxen(
    oxen_sim: Simulator,
    live_server: Any,
    settings: Any,
    team: Team,
    member: User,
    make_reference: Callable[..., Reference],
) -> None:
    settings.SITE_URL = live_server.url
    settings.OXEN_REFERENCE_HOSTING = "signed-url"
    ref = make_reference((10, 200, 10))
    request = generation_request_create(
        team=team,
        author=member,
        prompt="on a hill, @Image1",
        parameters={},
        references=[ref],
        batch_size=1,
        schema=get_schema(model=settings.OXEN_MODEL),
        model="bytedance-seedream-4-5",
    )
    drive(list(request.generations.values_list("pk", flat=True)))
    assert Generation.objects.get().status == "succeeded"
    [sent] = oxen_sim.received("POST /api/ai/queue")[0]["input_image"]
    assert sent.startswith(f"{live_server.url}/r/")
    fetched = httpx.get(sent)
    assert fetched.status_code == 200
    assert fetched.content == ref.file.open("rb").read()
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"


def test_a_tampered_or_expired_reference_url_is_refused(
    live_server: Any,
    settings: Any,
    make_reference: Callable[..., Reference],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.SITE_URL = live_server.url
    ref = make_reference()
    url = references.reference_signed_url(ref)
    assert httpx.get(url).status_code == 200
    assert httpx.get(url[:-3] + "xyz/").status_code == 404
    monkeypatch.setattr(references, "SIGNED_URL_MAX_AGE", -1)
    assert httpx.get(url).status_code == 404
    assert references.reference_from_signed_token("garbage") is None
