"""End to end through the API alone (the webhook set up on its page): upload 2 references,
make a batch of 2, hear of both from the signed webhook, download both originals, and find
their SHA-256 in the gallery's records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from standardwebhooks import Webhook

from gallery import tasks
from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.api.models import WebhookEndpoint
from gallery.generation.models import GalleryImage, Generation
from seedream.simulator import Simulator
from tests.conftest import drive, png_bytes
from tests.gallery.api.conftest import ApiClient
from tests.gallery.api.receiver import webhook_receiver

pytestmark = pytest.mark.django_db


def test_references_batch_webhook_and_downloads_through_the_api(
    oxen_sim: Simulator,
    api_client: Callable[..., ApiClient],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.WEBHOOK_PRIVATE_HOSTS = ["127.0.0.1"]
    # The worker, in this process: each delivery is attempted as its task would be; the
    # pipeline is driven by tests.conftest.drive.
    monkeypatch.setattr(
        tasks.webhook_deliver, "delay", lambda pk: webhooks.webhook_attempt(delivery_id=pk)
    )
    monkeypatch.setattr(tasks.generation_submit, "delay", lambda pk: None)
    client = api_client(["read", "generate"])
    with webhook_receiver() as receiver:
        owner = Client()
        owner.force_login(User.objects.get(username="owner"))
        added = owner.post(
            "/team/webhooks/", {"url": receiver.url, "events": ["generation.succeeded"]}
        )
        assert added.status_code == 302
        secret = WebhookEndpoint.objects.get().secret

        uploaded = client.post(
            "/api/v1/references",
            {
                "files": [
                    SimpleUploadedFile("red.png", png_bytes((80, 60), (220, 20, 20))),
                    SimpleUploadedFile("blue.png", png_bytes((80, 60), (20, 20, 220))),
                ]
            },
            HTTP_IDEMPOTENCY_KEY="refs-1",
        )
        assert uploaded.status_code == 201, uploaded.content
        reference_ids = [r["id"] for r in uploaded.json()["items"]]
        assert len(reference_ids) == 2

        with django_capture_on_commit_callbacks(execute=True):
            made = client.post(
                "/api/v1/generations",
                {
                    "prompt": "@Image1 and @Image2 as one poster",
                    "parameters": {"size": "2K"},
                    "batch_size": 2,
                    "reference_ids": reference_ids,
                },
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="batch-1",
            )
        assert made.status_code == 201, made.content
        generation_ids = [g["id"] for g in made.json()["generations"]]
        assert made.json()["reference_ids"] == reference_ids

        with django_capture_on_commit_callbacks(execute=True):
            drive(list(Generation.objects.values_list("pk", flat=True)))

    assert len(receiver.received) == 2
    events = []
    for request in receiver.received:
        sent = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), tz=UTC)
        with time_machine.travel(sent, tick=False):
            events.append(Webhook(secret).verify(request.body, request.headers))
    assert {e["type"] for e in events} == {"generation.succeeded"}
    assert sorted(e["data"]["id"] for e in events) == sorted(generation_ids)

    for event in events:
        image = event["data"]["image"]
        status = client.get(f"/api/v1/generations/{event['data']['id']}").json()
        assert status["status"] == "succeeded" and status["image"]["id"] == image["id"]
        original = client.get(image["original_url"])
        assert original.status_code == 200
        digest = hashlib.sha256(b"".join(original.streaming_content)).hexdigest()
        assert digest == image["sha256"] == GalleryImage.objects.get(public_id=image["id"]).sha256
