"""The access pattern every domain follows.

Each domain has one ``access.py`` with one ``access_<thing>(who, public_id)`` function per kind
of object a person can name in a URL (zulip's ``access_stream_by_id`` shape). Each one:

1. parses the id with :func:`parse_public_id` (a malformed id is a 404, like a missing one);
2. reads the object through a queryset already scoped to what ``who`` may see (their team, the
   review policy, the teams a reviewer reviews, a link's own images);
3. answers :class:`~django.http.Http404` with the same message whether the object does not exist
   or belongs to someone else, so no answer confirms that an id exists (never 403).

Views call an ``access_*`` function before they do anything with an object; services take the
checked object and never look one up by a public id themselves.
"""

from __future__ import annotations

import uuid

from django.db.models import Model, QuerySet
from django.http import Http404


def parse_public_id(value: object) -> uuid.UUID:
    """A public id from a URL or a form, or 404 if it is not a UUID."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such item.") from None


def first_or_404[ModelT: Model](queryset: QuerySet[ModelT], what: str) -> ModelT:
    """The first row of an already-scoped queryset, or ``Http404("No such <what>.")``."""
    found = queryset.first()
    if found is None:
        raise Http404(f"No such {what}.")
    return found
