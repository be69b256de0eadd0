"""The API's webhooks (``/api/v1/webhooks``): a team's endpoints, for tokens with the
``admin`` scope held by the team's owners and admins (what the Webhooks page does), through
the same services (``gallery.api.webhooks``)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import Status

from gallery.api import webhooks
from gallery.api.access import access_webhook
from gallery.api.auth import require_scope
from gallery.api.models import Scope, WebhookEndpoint, WebhookEvent
from gallery.api.problems import ERRORS

router = Router(tags=["webhooks"])


class WebhookOut(Schema):
    id: str
    url: str
    events: list[WebhookEvent]
    is_active: bool
    failing_since: datetime | None
    disabled_reason: str
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str  # shown in this answer and on the team's Webhooks page, to admins only


class WebhookList(Schema):
    items: list[WebhookOut]


class WebhookCreateIn(Schema):
    url: str
    events: list[WebhookEvent]


class WebhookUpdateIn(Schema):
    events: list[WebhookEvent] | None = None
    is_active: bool | None = None


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=str(endpoint.public_id),
        url=endpoint.url,
        events=[WebhookEvent(event) for event in endpoint.events],
        is_active=endpoint.is_active,
        failing_since=endpoint.failing_since,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


@router.get("/webhooks", response={200: WebhookList, **ERRORS})
def webhook_list(request: HttpRequest) -> WebhookList:
    membership = require_scope(request, Scope.ADMIN)
    return WebhookList(items=[webhook_out(e) for e in webhooks.endpoints_for(membership)])


@router.post("/webhooks", response={201: WebhookCreatedOut, **ERRORS})
def webhook_create(request: HttpRequest, data: WebhookCreateIn) -> Status[WebhookCreatedOut]:
    """Add an endpoint (a public https address) for some events; the answer holds the
    secret its deliveries are signed with (Standard Webhooks)."""
    membership = require_scope(request, Scope.ADMIN)
    endpoint = webhooks.webhook_endpoint_create(
        membership=membership, url=data.url, events=[str(e) for e in data.events]
    )
    return Status(
        201, WebhookCreatedOut(**webhook_out(endpoint).model_dump(), secret=endpoint.secret)
    )


@router.get("/webhooks/{webhook_id}", response={200: WebhookOut, **ERRORS})
def webhook_get(request: HttpRequest, webhook_id: str) -> WebhookOut:
    membership = require_scope(request, Scope.ADMIN)
    return webhook_out(access_webhook(membership, webhook_id))


@router.patch("/webhooks/{webhook_id}", response={200: WebhookOut, **ERRORS})
def webhook_update(request: HttpRequest, webhook_id: str, data: WebhookUpdateIn) -> WebhookOut:
    """Change the events, or switch the endpoint off or on (on again starts a new 3 days)."""
    membership = require_scope(request, Scope.ADMIN)
    endpoint = access_webhook(membership, webhook_id)
    updated = webhooks.webhook_endpoint_update(
        membership=membership,
        endpoint=endpoint,
        events=endpoint.events if data.events is None else [str(e) for e in data.events],
        is_active=endpoint.is_active if data.is_active is None else data.is_active,
    )
    return webhook_out(updated)


@router.delete("/webhooks/{webhook_id}", response={204: None, **ERRORS})
def webhook_delete(request: HttpRequest, webhook_id: str) -> HttpResponse:
    membership = require_scope(request, Scope.ADMIN)
    webhooks.webhook_endpoint_delete(
        membership=membership, endpoint=access_webhook(membership, webhook_id)
    )
    return HttpResponse(status=204)
