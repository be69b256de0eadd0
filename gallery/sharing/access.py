"""Access to shared links: a member's link by public id, and a presented token (its page and
each media file) resolved afresh on every request, so a revoked or expired link stops
working on the very next one. See ``gallery.access`` for the pattern."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from gallery.access import first_or_404, parse_public_id
from gallery.generation.models import GalleryImage
from gallery.sharing.models import ShareLink
from gallery.sharing.selectors import link_images_q, links_for
from gallery.team.models import Membership
from gallery.tokens import row_for_token

UNLOCKED_SESSION_KEY = "share_unlocked"  # the links unlocked by password in this session


class LinkGone(Exception):
    """The token names a link that was revoked or has expired: answer 410, not 404."""

    def __init__(self, link: ShareLink) -> None:
        super().__init__(f"link {link.pk} is {link.state}")
        self.link = link


def access_link(membership: Membership, public_id: object) -> ShareLink:
    return first_or_404(
        links_for(membership).filter(public_id=parse_public_id(public_id)),
        "link",
    )


def link_can_manage(membership: Membership, link: ShareLink) -> bool:
    """Who may manage a link (see its address again, change it, revoke it): the person who
    made it, the team's owners and admins, and staff reviewers (who can revoke from the admin
    too). Other members see the link but cannot reopen or stop one a colleague gave out;
    viewers cannot share at all. The one rule for the links page, the link panel, the share
    dialog, editing and revoking."""
    if link.team_id != membership.team_id:
        return False
    if membership.can_manage or membership.user.is_staff:
        return True
    return membership.can_generate and link.created_by_id == membership.user_id


def access_link_to_manage(membership: Membership, public_id: object) -> ShareLink:
    """A link the member may manage (``link_can_manage``); 404 otherwise, like any other."""
    link = access_link(membership, public_id)
    if not link_can_manage(membership, link):
        raise Http404("No such link.")
    return link


def link_resolve(token: str) -> ShareLink:
    """The link a presented token names: Http404 if none, LinkGone if revoked or expired."""
    link = row_for_token(ShareLink.objects.select_related("team"), token)
    if link is None:
        raise Http404("No such link.")
    if not link.is_active:
        raise LinkGone(link)
    return link


def link_image(link: ShareLink, public_id: object) -> GalleryImage:
    """One image of the link, under the same rules as ``link_images``; 404 otherwise."""
    images = link_images_q(link).filter(public_id=parse_public_id(public_id))
    return first_or_404(images.prefetch_related("thumbnails"), "image in this link")


def is_unlocked(request: HttpRequest, link: ShareLink) -> bool:
    if not link.password_hash:
        return True
    return str(link.public_id) in request.session.get(UNLOCKED_SESSION_KEY, [])
