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

__all__ = [
    "Favourite",
    "GalleryImage",
    "Generation",
    "GenerationRequest",
    "Membership",
    "Reference",
    "RequestReference",
    "Team",
    "Thumbnail",
    "User",
]
