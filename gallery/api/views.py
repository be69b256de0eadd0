"""The API's pages: personal access tokens (made, shown once, listed, revoked) and the
team's webhook endpoints with their delivery log and "Send again" (owners and admins)."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.api.access import access_delivery, access_token, access_webhook
from gallery.api.forms import TokenForm, WebhookChangeForm, WebhookForm
from gallery.api.tokens import api_token_create, api_token_revoke, tokens_for
from gallery.errors import ApplicationError, form_add_error
from gallery.team.access import require_membership


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """The person's tokens; a new one is shown once, on the answer to its form."""
    membership = require_membership(request)
    form = TokenForm(request.POST if request.method == "POST" else None)
    secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            day = form.cleaned_data["expires_at"]
            expires = timezone.make_aware(datetime.combine(day, time.max)) if day else None
            try:
                created = api_token_create(
                    membership=membership,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=expires,
                )
            except ApplicationError as exc:
                form_add_error(form, exc)
            else:
                secret = created.secret
                form = TokenForm()
        if not secret:
            status = 422
    response = render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "secret": secret,
            "tokens": tokens_for(_user(request)),
            "team": membership.team,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a token's only showing
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, public_id: str) -> HttpResponse:
    token = access_token(_user(request), public_id)
    if api_token_revoke(token=token):
        messages.success(request, f"{token.name} was revoked: it stops working at once.")
    return redirect("api-tokens")


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, manage=True)
    form = WebhookForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhooks.webhook_endpoint_create(
                membership=membership,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, "Webhook added. Its signing secret is on its page.")
            return redirect("webhook-detail", public_id=endpoint.public_id)
    return render(
        request,
        "api/webhooks.html",
        {"form": form, "endpoints": webhooks.endpoints_for(membership)},
        status=422 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    endpoint = access_webhook(membership, public_id)
    initial = {"events": endpoint.events, "is_active": endpoint.is_active}
    form = WebhookChangeForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            webhooks.webhook_endpoint_delete(membership=membership, endpoint=endpoint)
            messages.success(request, "Webhook removed.")
            return redirect("webhooks")
        if form.is_valid():
            try:
                webhooks.webhook_endpoint_update(
                    membership=membership,
                    endpoint=endpoint,
                    events=form.cleaned_data["events"],
                    is_active=form.cleaned_data["is_active"],
                )
            except ApplicationError as exc:
                form_add_error(form, exc)
            else:
                messages.success(request, "Webhook saved.")
                return redirect("webhook-detail", public_id=endpoint.public_id)
    deliveries = endpoint.deliveries.prefetch_related("attempt_log")[:50]
    response = render(
        request,
        "api/webhook.html",
        {"endpoint": endpoint, "form": form, "deliveries": deliveries},
        status=422 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"  # shows the signing secret
    return response


@login_required
@require_POST
def webhook_resend(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    delivery = access_delivery(membership, public_id)
    try:
        webhooks.webhook_delivery_resend(membership=membership, delivery=delivery)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{delivery.event_type} is being sent again.")
    return redirect("webhook-detail", public_id=delivery.endpoint.public_id)
