"""Access to the API's rows by public id (see ``gallery.access`` for the pattern): a user's
own tokens, and the webhook endpoints and deliveries of a team its admins manage."""

from __future__ import annotations

from gallery.access import first_or_404, parse_public_id
from gallery.accounts.models import User
from gallery.api.models import ApiToken, WebhookDelivery, WebhookEndpoint
from gallery.team.models import Membership


def access_token(user: User, public_id: object) -> ApiToken:
    return first_or_404(
        ApiToken.objects.filter(user=user, public_id=parse_public_id(public_id)), "token"
    )


def access_webhook(membership: Membership, public_id: object) -> WebhookEndpoint:
    return first_or_404(
        WebhookEndpoint.objects.filter(
            team_id=membership.team_id, public_id=parse_public_id(public_id)
        ),
        "webhook",
    )


def access_delivery(membership: Membership, public_id: object) -> WebhookDelivery:
    return first_or_404(
        WebhookDelivery.objects.filter(
            endpoint__team_id=membership.team_id, public_id=parse_public_id(public_id)
        ).select_related("endpoint"),
        "delivery",
    )
