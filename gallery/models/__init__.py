"""The data model, one module per area; everything is importable from ``gallery.models``."""

from gallery.models.accounts import Membership, Team, User
from gallery.models.generation import (
    Favourite,
    GalleryImage,
    Generation,
    GenerationRequest,
    Reference,
    RequestReference,
    Thumbnail,
)
from gallery.models.review import ReviewDecision
from gallery.models.sharing import ShareLink, ShareLinkItem
from gallery.models.team_invites import Invitation

__all__ = [
    "Favourite",
    "GalleryImage",
    "Generation",
    "GenerationRequest",
    "Invitation",
    "Membership",
    "Reference",
    "RequestReference",
    "ReviewDecision",
    "ShareLink",
    "ShareLinkItem",
    "Team",
    "Thumbnail",
    "User",
]
