"""Access to collections: the team's own, by public id; 404 for absent and forbidden alike
(see ``gallery.access``). Viewers browse, members edit, owners and admins delete."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from gallery.access import first_or_404, parse_public_id
from gallery.collection.models import Collection
from gallery.team.models import Membership


def collections_for(membership: Membership) -> QuerySet[Collection]:
    return Collection.objects.filter(team_id=membership.team_id)


def access_collection(membership: Membership, public_id: object) -> Collection:
    return first_or_404(
        collections_for(membership).filter(public_id=parse_public_id(public_id)), "collection"
    )


def access_collection_to_edit(membership: Membership, public_id: object) -> Collection:
    """A collection the member may change (add, remove, reorder, rename): not a viewer's."""
    collection = access_collection(membership, public_id)
    if not membership.can_generate:
        raise Http404("Viewers cannot change collections.")
    return collection


def access_collection_to_delete(membership: Membership, public_id: object) -> Collection:
    """A collection the member may delete: owners and admins only."""
    collection = access_collection(membership, public_id)
    if not membership.can_manage:
        raise Http404("Only team owners and admins can delete collections.")
    return collection
