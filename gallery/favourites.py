"""Favourites: a person's own marks on the team's images."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from gallery.models import Favourite, GalleryImage, Membership


def favourite_set(*, membership: Membership, image: GalleryImage, on: bool) -> bool:
    """Mark or unmark ``image`` (already access-checked) for the member; returns the new state.

    Setting a state rather than toggling keeps a double-click or a retried request harmless.
    """
    if not on:
        Favourite.objects.filter(user_id=membership.user_id, image=image).delete()
        return False
    try:
        with transaction.atomic():
            Favourite.objects.get_or_create(user_id=membership.user_id, image=image)
    except IntegrityError:  # the same click arriving twice at once
        pass
    return True
