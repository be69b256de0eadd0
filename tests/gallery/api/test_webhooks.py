"""Webhooks: signed per the Standard Webhooks spec (checked with the ``standardwebhooks``
library by a real receiver), retried with backoff and logged, emitted by the services where
the change happens, never sent to a private address unless the operator allows its host, and
switched off (with an email) after 3 days of failures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook

from gallery import tasks
from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.api.models import WebhookDelivery, WebhookEndpoint
from gallery.generation.lifecycle import generation_fail
from gallery.review.services import image_review
from gallery.sharing import services as sharing_services
from gallery.team.models import Membership, Team
from tests.conftest import mail_deliver
from tests.factories import make_image, make_item
from tests.gallery.api.receiver import webhook_receiver

pytestmark = pytest.mark.django_db
ALL_EVENTS = [
    "generation.succeeded",
    "generation.failed",
    "image.reviewed",
    "share_link.created",
    "share_link.revoked",
]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Delivery ids queued for the worker (the task's ``delay``), recorded instead of sent."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver, "delay", lambda pk: ids.append(pk))
    monkeypatch.setattr(
        tasks.webhook_deliver, "apply_async", lambda args, **kw: ids.append(args[0])
    )
    return ids


@pytest.fixture
def owner_membership(team: Team) -> Membership:
    owner = User.objects.get(username="owner")
    owner.email = "owner@example.com"
    owner.save()
    return Membership.objects.select_related("team", "user").get(team=team, user=owner)


@pytest.fixture
def local_hooks(settings: Any) -> None:
    settings.WEBHOOK_PRIVATE_HOSTS = ["127.0.0.1"]


def verify(secret: str, request: Any) -> dict[str, Any]:
    """The payload, its signature checked by ``standardwebhooks`` as of when it was sent (the
    tests move the clock through the backoff)."""
    sent = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), tz=UTC)
    with time_machine.travel(sent, tick=False):
        payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


def deliver_all(ids: list[int]) -> None:
    """Run every queued delivery until none is waiting, the clock moved past each backoff."""
    now = timezone.now()
    with time_machine.travel(now, tick=True) as traveller:
        for _ in range(20):
            pending = list(
                WebhookDelivery.objects.filter(state="pending").values_list("pk", flat=True)
            )
            if not pending:
                return
            for pk in pending:
                wait = webhooks.webhook_attempt(delivery_id=pk)
                if wait:
                    traveller.shift(timedelta(seconds=wait + 1))
    raise AssertionError("deliveries still pending")


def test_receiver_verifies_the_signature_with_standardwebhooks(
    owner_membership: Membership,
    local_hooks: None,
    queued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
    media_storage: Path,
) -> None:
    image = make_image(owner_membership.team, owner_membership.user, state="approved")
    with webhook_receiver() as receiver:
        endpoint = webhooks.webhook_endpoint_create(
            membership=owner_membership, url=receiver.url, events=ALL_EVENTS
        )
        with django_capture_on_commit_callbacks(execute=True):
            created = sharing_services.share_link_create(
                membership=owner_membership, images=[image], expires_in_days=7
            )
        assert len(queued) == 1
        deliver_all(queued)
    [request] = receiver.received
    payload = verify(endpoint.secret, request)
    assert payload["type"] == "share_link.created"
    assert payload["data"]["id"] == str(created.link.public_id)
    assert payload["data"]["image_ids"] == [str(image.public_id)]
    assert request.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.secret_new()).verify(request.body, request.headers)


def test_500_twice_then_200_is_three_attempts_logged(
    owner_membership: Membership, local_hooks: None, queued: list[int]
) -> None:
    with webhook_receiver([500, 500, 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(
            membership=owner_membership, url=receiver.url, events=["generation.failed"]
        )
        generation = make_item(owner_membership.team, owner_membership.user, status="queued")
        generation_fail(generation_id=generation.pk, message="Oxen could not make it.")
        deliver_all(queued)
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for request in receiver.received:
        payload = verify(endpoint.secret, request)
        assert payload["type"] == "generation.failed"
        assert payload["data"]["id"] == str(generation.public_id)
        assert payload["data"]["error"] == "Oxen could not make it."
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    log = list(delivery.attempt_log.values_list("response_code", flat=True))
    assert log == [500, 500, 200]
    assert all(a.duration_ms >= 0 for a in delivery.attempt_log.all())
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_the_backoff_grows_and_gives_up_after_24_hours(
    owner_membership: Membership, local_hooks: None, queued: list[int]
) -> None:
    with webhook_receiver([500] * 20) as receiver:
        webhooks.webhook_endpoint_create(
            membership=owner_membership, url=receiver.url, events=["generation.failed"]
        )
        generation = make_item(owner_membership.team, owner_membership.user, status="queued")
        generation_fail(generation_id=generation.pk, message="no")
        start = timezone.now()
        waits = []
        with time_machine.travel(start, tick=False) as traveller:
            pk = WebhookDelivery.objects.get().pk
            while (wait := webhooks.webhook_attempt(delivery_id=pk)) is not None:
                waits.append(wait)
                traveller.shift(timedelta(seconds=wait))
            ended = timezone.now()
    assert waits == sorted(waits[:-1]) + waits[-1:] and waits[0] == 5
    assert len(receiver.received) == len(waits) + 1 == 8
    assert timedelta(hours=23) <= ended - start <= timedelta(hours=24, minutes=1)
    assert WebhookDelivery.objects.get().state == "failed"


def test_an_endpoint_failing_for_three_days_is_switched_off_and_admins_emailed(
    owner_membership: Membership,
    local_hooks: None,
    queued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
    mail_queued: list[Any],
) -> None:
    with webhook_receiver([500] * 5) as receiver:
        endpoint = webhooks.webhook_endpoint_create(
            membership=owner_membership, url=receiver.url, events=["generation.failed"]
        )
        for days in (0, 3):
            with time_machine.travel(timezone.now() + timedelta(days=days, minutes=1), tick=False):
                generation = make_item(owner_membership.team, None, status="queued")
                generation_fail(generation_id=generation.pk, message="no")
                with django_capture_on_commit_callbacks(execute=True):
                    webhooks.webhook_attempt(delivery_id=WebhookDelivery.objects.latest("id").pk)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "failed" in endpoint.disabled_reason
    mail_deliver(mail_queued)
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "switched off" in mail.outbox[0].body
    assert WebhookDelivery.objects.filter(state="pending").count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.8/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "http://example.com/hook",
        "ftp://example.com/hook",
    ],
)
def test_a_private_or_plain_http_address_is_refused(owner_membership: Membership, url: str) -> None:
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.webhook_endpoint_create(membership=owner_membership, url=url, events=ALL_EVENTS)
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


def test_a_delivery_to_a_private_address_is_not_sent(
    owner_membership: Membership, queued: list[int]
) -> None:
    with webhook_receiver() as receiver:
        # Written past the form's check (as if the name resolved elsewhere when it was made).
        WebhookEndpoint.objects.create(
            team=owner_membership.team,
            url=receiver.url.replace("http:", "https:"),
            events=["generation.failed"],
            secret=webhooks.secret_new(),
        )
        generation = make_item(owner_membership.team, None, status="queued")
        generation_fail(generation_id=generation.pk, message="no")
        webhooks.webhook_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert "private" in delivery.last_error and delivery.response_code is None


def test_the_page_refuses_a_private_address_in_words(
    owner_membership: Membership,
) -> None:
    client = Client()
    client.force_login(owner_membership.user)
    response = client.post(
        "/team/webhooks/", {"url": "https://127.0.0.1/hook", "events": ["generation.failed"]}
    )
    assert response.status_code == 422
    assert "private" in response.content.decode()


def test_only_owners_and_admins_manage_webhooks(member_client: Client) -> None:
    assert member_client.get("/team/webhooks/").status_code == 404


def test_events_are_emitted_by_the_services(
    owner_membership: Membership, local_hooks: None, queued: list[int], media_storage: Path
) -> None:
    owner = owner_membership.user
    owner.is_staff = True
    owner.save()
    WebhookEndpoint.objects.create(
        team=owner_membership.team,
        url="http://127.0.0.1:9/",
        events=ALL_EVENTS,
        secret=webhooks.secret_new(),
    )
    image = make_image(owner_membership.team, owner, state="pending")
    image_review(image=image, reviewer=owner, to_state="approved", note="ok")
    created = sharing_services.share_link_create(
        membership=owner_membership, images=[image], expires_in_days=7
    )
    sharing_services.share_link_revoke(link=created.link, membership=owner_membership)
    sharing_services.share_link_revoke(link=created.link, membership=owner_membership)  # again
    assert list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True)) == [
        "image.reviewed",
        "share_link.created",
        "share_link.revoked",
    ]
    reviewed = WebhookDelivery.objects.get(event_type="image.reviewed").payload["data"]
    assert (reviewed["from_state"], reviewed["review_state"]) == ("pending", "approved")


def test_send_again_makes_a_new_delivery_of_the_same_message(
    owner_membership: Membership, local_hooks: None, queued: list[int]
) -> None:
    with webhook_receiver([200, 200]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(
            membership=owner_membership, url=receiver.url, events=["generation.failed"]
        )
        generation = make_item(owner_membership.team, None, status="queued")
        generation_fail(generation_id=generation.pk, message="no")
        deliver_all(queued)
        first = WebhookDelivery.objects.get()
        client = Client()
        client.force_login(owner_membership.user)
        page = client.get(f"/team/webhooks/{endpoint.public_id}/")
        assert "Send again" in page.content.decode() and endpoint.secret in page.content.decode()
        assert (
            client.post(f"/team/webhooks/deliveries/{first.public_id}/resend/").status_code == 302
        )
        deliver_all(queued)
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert WebhookDelivery.objects.filter(state="succeeded").count() == 2


def test_the_celery_task_sends_and_schedules_the_next_attempt(
    owner_membership: Membership,
    local_hooks: None,
    queued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with webhook_receiver([503]) as receiver:
        webhooks.webhook_endpoint_create(
            membership=owner_membership, url=receiver.url, events=["generation.failed"]
        )
        generation = make_item(owner_membership.team, None, status="queued")
        with django_capture_on_commit_callbacks(execute=True):
            generation_fail(generation_id=generation.pk, message="no")
        pk = queued.pop()
        tasks.webhook_deliver.run(pk)
    assert len(receiver.received) == 1
    assert queued == [pk]  # queued again, with its countdown
    assert WebhookDelivery.objects.get().next_attempt_at > timezone.now()
