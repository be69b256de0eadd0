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
from gallery.budget.models import BudgetChange, MemberQuota, Reservation, TeamBudget
from gallery.collection.models import Collection, CollectionItem
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
from gallery.sharing.models import (
    ProofingComment,
    ProofingPick,
    ProofingVisitor,
    ShareLink,
    ShareLinkItem,
)
from gallery.team.models import Invitation, Membership, Team

__all__ = [
    "ApiToken",
    "BudgetChange",
    "Collection",
    "CollectionItem",
    "Favourite",
    "GalleryImage",
    "Generation",
    "GenerationRequest",
    "IdempotencyKey",
    "Invitation",
    "MemberQuota",
    "Membership",
    "ProofingComment",
    "ProofingPick",
    "ProofingVisitor",
    "Reconciliation",
    "Reference",
    "RequestReference",
    "Reservation",
    "ReviewDecision",
    "ShareLink",
    "ShareLinkItem",
    "StoredSchema",
    "Team",
    "TeamBudget",
    "Thumbnail",
    "UpstreamGeneration",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
