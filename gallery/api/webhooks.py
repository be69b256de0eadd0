"""Webhooks: a team's endpoints (managed by its owners and admins), the events sent to them,
and their delivery.

An event becomes one ``WebhookDelivery`` per subscribed endpoint, written in the same
transaction as the change it reports (so an event is never lost nor sent for a change that
rolled back) and queued after commit. Each delivery is a POST signed per the Standard
Webhooks spec (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256
with the endpoint's ``whsec_`` secret, by the ``standardwebhooks`` package), retried with
exponential backoff (``RETRY_SCHEDULE``) for 24 hours until a 2xx; every request is logged
as a ``WebhookAttempt``. An endpoint that has failed for 3 days is disabled and its team's
owners and admins are emailed.

Deliveries go only to public https addresses, checked as result downloads are
(``seedream.urlpolicy``: every address the host resolves to must be public, and the
connection is pinned to a checked address), unless the server's operator lists the host in
``WEBHOOK_PRIVATE_HOSTS``. Redirects are not followed."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from standardwebhooks import Webhook

from gallery import tasks
from gallery.api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from gallery.errors import ApplicationError
from gallery.generation.models import GalleryImage, Generation
from gallery.mail import mail_queue
from gallery.sharing.models import ShareLink
from gallery.team.models import Membership
from seedream.errors import OxenError
from seedream.urlpolicy import PinnedTransport, UrlPolicy, system_resolver

# Waits after each failed attempt (Standard Webhooks' schedule, ending 24 hours after the
# event): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then the last try at 24 h.
RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 23095)
GIVE_UP_AFTER = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=3)
TIMEOUT = 10.0
LEASE = timedelta(seconds=60)  # a delivery being sent is not picked up by the sweep meanwhile
MAX_ENDPOINTS = 10
USER_AGENT = "SeedreamGallery-Webhooks/1"


class WebhookError(ApplicationError):
    """An endpoint that cannot be set up as asked."""


# -- endpoints -----------------------------------------------------------------------------------


def _private_host(host: str) -> bool:
    return host.lower().rstrip(".") in {h.lower() for h in settings.WEBHOOK_PRIVATE_HOSTS}


def webhook_url_check(url: str) -> httpx.URL:
    """Refuse (``WebhookError`` on ``url``) anything but a public https address, or a host the
    operator allow-listed (``WEBHOOK_PRIVATE_HOSTS``, where plain http is allowed too)."""
    policy = UrlPolicy(allowed_hosts=())
    try:
        parsed = policy.check_url(url.replace("http://", "https://", 1), any_host=True)
        if _private_host(parsed.host):
            return httpx.URL(url)
        if not url.startswith("https://"):
            raise WebhookError("Webhooks are sent to https addresses only.", field="url")
        policy.resolve(parsed.host, parsed.port or 443, system_resolver)
    except OxenError as exc:
        message = str(exc)
        if "private or reserved" in message:
            message = "This address is private; webhooks go to public addresses only."
        raise WebhookError(f"{message[:1].upper()}{message[1:]}.", field="url") from None
    return parsed


def _events(events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events))
    if not chosen or any(event not in WebhookEvent.values for event in chosen):
        raise WebhookError("Choose at least one of the listed events.", field="events")
    return chosen


def _require_manager(membership: Membership) -> None:
    if not membership.can_manage:
        raise WebhookError("Only the team's owners and admins manage webhooks.")


def secret_new() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


@transaction.atomic
def webhook_endpoint_create(
    *, membership: Membership, url: str, events: Iterable[str]
) -> WebhookEndpoint:
    _require_manager(membership)
    webhook_url_check(url)
    chosen = _events(events)
    if WebhookEndpoint.objects.filter(team_id=membership.team_id).count() >= MAX_ENDPOINTS:
        raise WebhookError(f"A team can have at most {MAX_ENDPOINTS} webhook endpoints.")
    endpoint = WebhookEndpoint(
        team=membership.team,
        created_by=membership.user,
        url=url,
        events=chosen,
        secret=secret_new(),
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *, membership: Membership, endpoint: WebhookEndpoint, events: Iterable[str], is_active: bool
) -> WebhookEndpoint:
    """Change the events, or switch the endpoint off or on again (on again clears the
    failure count: the next failure starts a new 3 days)."""
    _require_manager(membership)
    endpoint.events = _events(events)
    if is_active and not endpoint.is_active:
        endpoint.failing_since = None
        endpoint.disabled_reason = ""
    endpoint.is_active = is_active
    endpoint.save(update_fields=["events", "is_active", "failing_since", "disabled_reason"])
    return endpoint


def webhook_endpoint_delete(*, membership: Membership, endpoint: WebhookEndpoint) -> None:
    _require_manager(membership)
    endpoint.delete()


def endpoints_for(membership: Membership) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(team_id=membership.team_id)


# -- events --------------------------------------------------------------------------------------


def event_emit(*, team_id: int, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """One delivery per active endpoint of the team subscribed to ``event``, written now (in
    the caller's transaction) and queued after commit."""
    return _deliveries_create(_subscribed(team_id, event), event, data)


def _subscribed(team_id: int, event: str) -> list[WebhookEndpoint]:
    """The team's active endpoints that asked for ``event``."""
    return [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(team_id=team_id, is_active=True)
        if event in endpoint.events
    ]


def _deliveries_create(
    endpoints: list[WebhookEndpoint], event: str, data: dict[str, Any]
) -> list[WebhookDelivery]:
    if not endpoints:
        return []
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = {"type": event, "timestamp": timezone.now().isoformat(), "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_type=event,
            message_id=message_id,
            payload=payload,
            next_attempt_at=timezone.now(),
        )
        for endpoint in endpoints
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: [tasks.webhook_deliver.delay(pk) for pk in ids])
    return deliveries


def image_data(image: GalleryImage) -> dict[str, Any]:
    return {
        "id": str(image.public_id),
        "sha256": image.sha256,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "review_state": image.review_state,
        "original_url": f"/api/v1/images/{image.public_id}/original",
    }


def generation_finished(generation: Generation) -> None:
    """``generation.succeeded`` or ``generation.failed`` for a row that reached one of them
    (called where the pipeline moves it there, inside that transaction)."""
    if generation.status == Generation.Status.SUCCEEDED:
        event = WebhookEvent.GENERATION_SUCCEEDED
    elif generation.status == Generation.Status.FAILED:
        event = WebhookEvent.GENERATION_FAILED
    else:
        return
    # Looked up first: the payload costs two queries, on every result of a team without
    # webhooks too if it were built before (issue 15: a burst of completions pays them all).
    endpoints = _subscribed(generation.team_id, event)
    if not endpoints:
        return
    image = GalleryImage.objects.filter(generation_id=generation.pk).first()
    request_id = (
        Generation.objects.filter(pk=generation.pk).values_list("request__public_id", flat=True)
    ).first()
    data = {
        "id": str(generation.public_id),
        "request_id": str(request_id),
        "status": generation.status,
        "error": generation.last_error,
        "image": image_data(image) if image else None,
    }
    _deliveries_create(endpoints, event, data)


def image_reviewed(image: GalleryImage, *, reviewer: str, from_state: str, note: str) -> None:
    event_emit(
        team_id=image.team_id,
        event=WebhookEvent.IMAGE_REVIEWED,
        data={**image_data(image), "from_state": from_state, "reviewer": reviewer, "note": note},
    )


def share_link_event(link: ShareLink, event: str) -> None:
    event_emit(
        team_id=link.team_id,
        event=event,
        data={
            "id": str(link.public_id),
            "note": link.note,
            "image_ids": [
                str(value)
                for value in link.items.order_by("position").values_list(
                    "image__public_id", flat=True
                )
            ],
            "expires_at": link.expires_at.isoformat() if link.expires_at else None,
            "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        },
    )


# -- delivery ------------------------------------------------------------------------------------


def signed_headers(endpoint: WebhookEndpoint, message_id: str, body: str) -> dict[str, str]:
    now = timezone.now()
    signature = Webhook(endpoint.secret).sign(message_id, now, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _client(url: str) -> httpx.Client:
    host = httpx.URL(url).host
    options: dict[str, Any] = {"timeout": TIMEOUT, "follow_redirects": False, "trust_env": False}
    if _private_host(host):
        return httpx.Client(**options)
    return httpx.Client(transport=PinnedTransport(UrlPolicy(allowed_hosts=())), **options)


def _post(endpoint: WebhookEndpoint, message_id: str, body: str) -> tuple[int | None, str]:
    """POST once: the status code (None if no answer) and an error to log."""
    try:
        webhook_url_check(endpoint.url)
        with _client(endpoint.url) as client:
            response = client.post(
                endpoint.url, content=body, headers=signed_headers(endpoint, message_id, body)
            )
    except WebhookError as exc:
        return None, exc.message
    except OxenError as exc:
        return None, str(exc)[:300]
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    error = "" if 200 <= response.status_code < 300 else f"answered {response.status_code}"
    return response.status_code, error


def webhook_attempt(*, delivery_id: int) -> float | None:
    """Send a delivery that is due; returns the seconds until its next attempt, or None when
    it is finished (delivered, given up, its endpoint gone or off)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
            return None
        if not delivery.endpoint.is_active:
            delivery.state = WebhookDelivery.State.FAILED
            delivery.last_error = "The endpoint is disabled."
            delivery.save(update_fields=["state", "last_error"])
            return None
        due = delivery.next_attempt_at or now
        if due > now:
            return (due - now).total_seconds()
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["next_attempt_at"])
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"))
    started = time.monotonic()
    code, error = _post(endpoint, delivery.message_id, body)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery.pk, code=code, error=error, duration_ms=duration_ms)


def _record(delivery_id: int, *, code: int | None, error: str, duration_ms: int) -> float | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .get(pk=delivery_id)
        )
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        WebhookAttempt.objects.create(
            delivery=delivery, response_code=code, duration_ms=duration_ms, error=error
        )
        delivery.attempts += 1
        delivery.response_code = code
        delivery.duration_ms = duration_ms
        delivery.last_error = error
        wait: float | None = None
        if not error:
            delivery.state = WebhookDelivery.State.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
        else:
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since"])
            elif now - endpoint.failing_since >= DISABLE_AFTER and endpoint.is_active:
                _disable(endpoint, now)
            index = delivery.attempts - 1
            if endpoint.is_active and index < len(RETRY_SCHEDULE):
                wait = float(RETRY_SCHEDULE[index])
                if delivery.created_at + GIVE_UP_AFTER < now + timedelta(seconds=wait) - (
                    timedelta(seconds=60)
                ):
                    wait = None
            if wait is None:
                delivery.state = WebhookDelivery.State.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=wait)
        delivery.save()
    return wait


def _disable(endpoint: WebhookEndpoint, now: datetime) -> None:
    since = timezone.localtime(endpoint.failing_since or now).strftime("%Y-%m-%d %H:%M %Z")
    endpoint.is_active = False
    endpoint.disabled_reason = f"Every delivery failed since {since}."
    endpoint.save(update_fields=["is_active", "disabled_reason"])
    # Its other waiting deliveries end too; "Send again" sends any of them once it is fixed.
    WebhookDelivery.objects.filter(endpoint=endpoint, state=WebhookDelivery.State.PENDING).update(
        state=WebhookDelivery.State.FAILED,
        next_attempt_at=None,
        last_error="The endpoint was switched off.",
    )
    admins = list(
        Membership.objects.filter(
            team_id=endpoint.team_id,
            role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
            user__is_active=True,
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if admins:
        message = (
            f"The webhook endpoint {endpoint.url} of {endpoint.team.name} has failed every "
            f"delivery since {since}, so it was switched off. Fix the receiver, then switch "
            "it on again on the team's Webhooks page; use Send again for the events it missed."
        )
        mail_queue("Webhook endpoint switched off", message, admins)


def webhook_delivery_resend(
    *, membership: Membership, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send a delivery's event again ("Send again"), as a new delivery with the same
    ``webhook-id`` (receivers that saw it already can tell)."""
    _require_manager(membership)
    if not delivery.endpoint.is_active:
        raise WebhookError("Switch the endpoint on before sending again.")
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            endpoint=delivery.endpoint,
            event_type=delivery.event_type,
            message_id=delivery.message_id,
            payload=delivery.payload,
            next_attempt_at=timezone.now(),
        )
        transaction.on_commit(lambda: tasks.webhook_deliver.delay(again.pk))
    return again


def webhooks_due(limit: int = 200) -> list[int]:
    """Deliveries whose next attempt is due (beat's sweep: the net under lost tasks and
    waits longer than a task countdown may be)."""
    return list(
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
