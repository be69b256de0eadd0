"""Access to renditions: a thumbnail of an image the member may see (see ``gallery.access``)."""

from __future__ import annotations

from gallery.access import first_or_404, parse_public_id
from gallery.browse.access import images_for
from gallery.media.models import Thumbnail
from gallery.team.models import Membership


def access_thumbnail(
    membership: Membership, public_id: object, *, sha256: str, width: int
) -> Thumbnail:
    """The thumbnail with this content hash and width of an image visible to ``membership``."""
    visible = images_for(membership).filter(public_id=parse_public_id(public_id)).values("pk")
    return first_or_404(
        Thumbnail.objects.filter(image__in=visible, width=width, sha256=sha256).only("file"),
        "thumbnail",
    )
