"""The API's shared links (``/api/v1/share-links``): make, list, read, change and revoke,
through ``access_image``, ``access_link``/``access_link_to_manage`` and the sharing services;
the address is given to those who may manage the link (``link_can_manage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from gallery.api.auth import caller_of, require_scope
from gallery.api.idempotency import idempotent
from gallery.api.models import Scope
from gallery.api.problems import ERRORS
from gallery.browse.access import access_image
from gallery.sharing.access import access_link, access_link_to_manage, link_can_manage
from gallery.sharing.models import ShareLink
from gallery.sharing.selectors import links_with_items
from gallery.sharing.services import (
    MAX_ITEMS,
    share_link_address,
    share_link_create,
    share_link_revoke,
    share_link_update,
)
from gallery.team.models import Membership

router = Router(tags=["share links"])


class ShareLinkOut(Schema):
    id: str
    note: str
    state: str
    url: str | None = Field(None, description="The address, for those who may manage it")
    expires_at: datetime | None
    has_password: bool
    allow_download: bool
    show_metadata: bool
    image_ids: list[str]
    view_count: int
    download_count: int
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


class ShareLinkList(Schema):
    items: list[ShareLinkOut]


class ShareLinkCreateIn(Schema):
    image_ids: list[str] = Field(..., min_length=1, max_length=MAX_ITEMS)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    password: str = Field("", max_length=128)
    allow_download: bool = True
    show_metadata: bool = False
    note: str = Field("", max_length=200)


class ShareLinkUpdateIn(Schema):
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    password: str | None = Field(None, max_length=128)
    allow_download: bool | None = None
    show_metadata: bool | None = None
    note: str | None = Field(None, max_length=200)


class ListQuery(Schema):
    state: str = Field("", description="active, expired or revoked")
    limit: int = Field(100, ge=1, le=500)


def link_out(membership: Membership, link: ShareLink, *, url: str | None = None) -> ShareLinkOut:
    if url is None and link_can_manage(membership, link):
        url = share_link_address(link)
    return ShareLinkOut(
        id=str(link.public_id),
        note=link.note,
        state=link.state,
        url=url,
        expires_at=link.expires_at,
        has_password=link.has_password,
        allow_download=link.allow_download,
        show_metadata=link.show_metadata,
        image_ids=[str(item.image.public_id) for item in link.items.all()],
        view_count=link.view_count,
        download_count=link.download_count,
        created_by=link.created_by.username if link.created_by else None,
        created_at=link.created_at,
        revoked_at=link.revoked_at,
    )


@router.post("/share-links", response={201: ShareLinkOut, **ERRORS})
def link_create(request: HttpRequest, data: ShareLinkCreateIn) -> HttpResponse:
    """Share images through a secret link. Send ``Idempotency-Key``."""
    membership = require_scope(request, Scope.SHARE)

    def make() -> tuple[int, Any]:
        images = [access_image(membership, value) for value in data.image_ids]
        created = share_link_create(
            membership=membership,
            images=images,
            expires_in_days=data.expires_in_days,
            password=data.password,
            allow_download=data.allow_download,
            show_metadata=data.show_metadata,
            note=data.note,
        )
        return 201, link_out(membership, created.link, url=created.url).model_dump(mode="json")

    return idempotent(
        request, owner=caller_of(request).owner, operation="share_links.create", make=make
    )


@router.get("/share-links", response={200: ShareLinkList, **ERRORS})
def link_list(request: HttpRequest, query: Query[ListQuery]) -> ShareLinkList:
    membership = require_scope(request, Scope.READ)
    links = list(links_with_items(membership)[: query.limit])
    items = [link_out(membership, link) for link in links]
    if query.state:
        items = [item for item in items if item.state == query.state]
    return ShareLinkList(items=items)


@router.get("/share-links/{link_id}", response={200: ShareLinkOut, **ERRORS})
def link_get(request: HttpRequest, link_id: str) -> ShareLinkOut:
    membership = require_scope(request, Scope.READ)
    return link_out(membership, access_link(membership, link_id))


@router.patch("/share-links/{link_id}", response={200: ShareLinkOut, **ERRORS})
def link_update(request: HttpRequest, link_id: str, data: ShareLinkUpdateIn) -> ShareLinkOut:
    """Change expiry (days from now; ``null`` removes it), password (``""`` removes it),
    downloads, metadata or note; fields left out stay as they are."""
    membership = require_scope(request, Scope.SHARE)
    link = access_link_to_manage(membership, link_id)
    changes = data.model_dump(exclude_unset=True)
    for flag in ("password", "allow_download", "show_metadata", "note"):
        if changes.get(flag, "") is None:
            changes.pop(flag)
    updated = share_link_update(link=link, actor=membership, **changes)
    return link_out(membership, updated)


@router.post("/share-links/{link_id}/revoke", response={200: ShareLinkOut, **ERRORS})
def link_revoke(request: HttpRequest, link_id: str) -> ShareLinkOut:
    """Revoke a link: it stops working on the next request (repeating is harmless)."""
    membership = require_scope(request, Scope.SHARE)
    link = access_link_to_manage(membership, link_id)
    share_link_revoke(link=link, membership=membership)
    return link_out(membership, link)
