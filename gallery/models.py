"""Every model of the ``gallery`` app, imported here because Django loads ``<app>.models``.

Models live in their domain package (``gallery/<domain>/models.py``) and are imported from
there; this module only makes sure Django registers all of them when the app loads. They keep
the ``gallery`` app label, so table names and the migration history are unchanged.
"""

from gallery.accounts.models import User
from gallery.api.models import (
    ApiToken,
    IdempotencyKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from gallery.browse.models import Favourite
from gallery.generation.models import (
    GalleryImage,
    Generation,
    GenerationRequest,
    Reconciliation,
    Reference,
    RequestReference,
    StoredSchema,
    UpstreamGeneration,
)
from gallery.media.models import Thumbnail
from gallery.review.models import ReviewDecision
from gallery.sharing.models import ShareLink, ShareLinkItem
from gallery.team.models import Invitation, Membership, Team

__all__ = [
    "ApiToken",
    "Favourite",
    "GalleryImage",
    "Generation",
    "GenerationRequest",
    "IdempotencyKey",
    "Invitation",
    "Membership",
    "Reconciliation",
    "Reference",
    "RequestReference",
    "ReviewDecision",
    "ShareLink",
    "ShareLinkItem",
    "StoredSchema",
    "Team",
    "Thumbnail",
    "UpstreamGeneration",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
