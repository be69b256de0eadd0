"""The team's gallery: the grid (with live tiles and infinite scroll), an item's detail
page, compare, favourites and bulk actions."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import condition, require_GET, require_POST

from gallery.browse import services as browse_services
from gallery.browse.access import access_gallery_item, access_image, gallery_items, generations_for
from gallery.browse.forms import FilterForm
from gallery.browse.models import Favourite
from gallery.browse.selectors import (
    Cursor,
    GalleryFilters,
    gallery_changes,
    gallery_grid_page,
    gallery_item_version,
    gallery_neighbours,
    gallery_tile,
    item_lineage,
    item_version,
    live_version,
)
from gallery.collection.selectors import collection_choices, image_collections
from gallery.errors import ApplicationError
from gallery.generation import request_export
from gallery.generation.models import GalleryImage, Generation
from gallery.http import HtmxRequest, redirect_to_next
from gallery.sharing.selectors import image_feedback
from gallery.team.access import require_membership
from gallery.team.models import Membership
from gallery.team.selectors import member_choices
from gallery.templatetags.gallery_tags import money, param, tiles_prefetch


def home(request: HtmxRequest) -> HttpResponse:
    """The team's gallery is the home page."""
    return grid(request)


COMPARE_MIN, COMPARE_MAX = 2, 4
SIZES = ["2K", "4K"]


@login_required
@require_GET
def grid(request: HtmxRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    if not membership:
        return render(request, "browse/no_team.html")
    membership = require_membership(request)
    cursor = Cursor.decode(request.GET.get("cursor", ""))
    if request.htmx and cursor is not None:
        # Infinite scroll: only the next tiles and the next sentinel.
        filters = request_filters(request, membership)
        page = gallery_grid_page(membership, filters=filters, cursor=cursor)
        tiles_prefetch(request, page.items, membership.can_generate)
        return render(
            request,
            "browse/grid.html#page",
            {"page": page, "query": filter_query(request), "membership": membership},
        )
    form = filter_form(request, membership)
    filters = form.filters()
    page = gallery_grid_page(membership, filters=filters, cursor=cursor)
    tiles_prefetch(request, page.items, membership.can_generate)
    return render(
        request,
        "browse/grid.html",
        {
            "page": page,
            "form": form,
            "filters": filters,
            "deep": cursor is not None,
            "query": filter_query(request),
            "live_since": _stamp(timezone.now()),
        },
        status=400 if form.errors else 200,
    )


def _stamp(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def _since(value: str) -> datetime:
    """A page's ``since`` stamp; a missing or malformed one means "just now"."""
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return timezone.now()


def _live_etag(request: HttpRequest, *args: object, **kwargs: object) -> str:
    return live_version(require_membership(request))


@login_required
@require_GET
@condition(etag_func=_live_etag)
def live(request: HttpRequest) -> HttpResponse:
    """What changed in the team's gallery since the page's last look (its ``since`` stamp):
    304 while the team's version is the one the page already has (``If-None-Match``), else
    the tiles touched since then, which the page puts in place or adds at the top."""
    membership = require_membership(request)
    now = timezone.now()
    items = gallery_changes(
        membership,
        filters=request_filters(request, membership),
        since=_since(request.GET.get("since", "")),
    )
    tiles_prefetch(request, items, membership.can_generate)
    response = render(
        request,
        "browse/grid.html#live",
        {"items": items, "since": _stamp(now), "membership": membership},
    )
    response["Cache-Control"] = "private, no-cache"
    return response


def _item_etag(request: HttpRequest, public_id: str) -> str:
    return gallery_item_version(require_membership(request), public_id)


@login_required
@require_GET
@condition(etag_func=_item_etag)
def item_live(request: HttpRequest, public_id: str) -> HttpResponse:
    """The detail page again once the item changed (304 until then), for an open detail page
    to put in place while its generation is in flight."""
    response = _detail(request, public_id)
    response["Cache-Control"] = "private, no-cache"
    return response


def filter_form(request: HttpRequest, membership: Membership) -> FilterForm:
    """The gallery's filters as this request sets them (the collection page uses them too)."""
    return FilterForm(
        request.GET,
        authors=member_choices(membership),
        sizes=SIZES,
        # From the cache: the gallery page stays at four queries (issue 15).
        collections=collection_choices(membership),
    )


# Query parameters of the grid's own requests that are not filters.
NOT_FILTERS = frozenset({"cursor", "since"})


def request_filters(request: HttpRequest, membership: Membership) -> GalleryFilters:
    """The filters of a request that renders no filter form (infinite scroll, live polls):
    without a filter in the query, none, with no form built and no member list read (what the
    form would answer; issue 15); else the form's."""
    if not any(value for key, value in request.GET.items() if key not in NOT_FILTERS):
        return GalleryFilters()
    return filter_form(request, membership).filters()


def filter_query(request: HttpRequest) -> str:
    """The filters of this request as a query string, without the cursor."""
    pairs: list[tuple[str, str]] = [
        (key, str(value)) for key, value in request.GET.items() if key != "cursor" and value
    ]
    return urlencode(pairs)


@login_required
@require_GET
def tile(request: HttpRequest, public_id: str) -> HttpResponse:
    """One tile, polled by htmx while its generation is in flight."""
    generation = gallery_tile(require_membership(request), public_id)
    return render(request, "browse/grid.html#tile", {"g": generation})


@login_required
@require_GET
def detail(request: HttpRequest, public_id: str) -> HttpResponse:
    return _detail(request, public_id)


def _detail(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request)
    generation = access_gallery_item(membership, public_id)
    generation_request = generation.request
    references = generation_request.ordered_references()
    exported = request_export.request_export(generation_request)
    # Under the same review policy as the grid: a hidden sibling is not even listed.
    image = _image(generation)
    siblings = list(
        generations_for(membership)
        .filter(request=generation_request)
        .exclude(pk=generation.pk)
        .select_related("image")
        .order_by("index")
    )
    return render(
        request,
        "browse/detail.html",
        {
            "g": generation,
            "req": generation_request,
            "references": references,
            "exported": exported,
            "neighbours": gallery_neighbours(membership, generation),
            "siblings": siblings,
            "is_favourite": _is_favourite(membership.user_id, generation),
            "in_collections": image_collections(membership, image) if image else [],
            "lineage": item_lineage(membership, generation),
            **_feedback(membership, image),
            "can_delete": browse_services.deletable(membership, generation),
            "seconds": _seconds(generation),
            "live_etag": item_version(
                generation.status,
                generation.updated_at,
                image.review_state if image else None,
            ),
        },
    )


def _image(generation: Generation) -> GalleryImage | None:
    try:
        return generation.image
    except GalleryImage.DoesNotExist:
        return None


def _feedback(membership: Membership, image: GalleryImage | None) -> dict[str, object]:
    """Visitors' picks and comments on the image, through the team's proofing links."""
    if image is None:
        return {}
    picks, comments = image_feedback(membership, image)
    return {"proof_picks": picks, "proof_comments": comments}


def _is_favourite(user_id: int, generation: Generation) -> bool:
    return Favourite.objects.filter(user_id=user_id, image__generation=generation).exists()


def _seconds(generation: Generation) -> float | None:
    if generation.finished_at is None:
        return None
    return round((generation.finished_at - generation.created_at).total_seconds(), 1)


@login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    ids = request.GET.getlist("ids")
    if not COMPARE_MIN <= len(set(ids)) <= COMPARE_MAX:
        messages.error(request, "Select two to four items to compare.")
        return redirect("home")
    items = gallery_items(membership, ids)
    rows = _compare_rows(items)
    return render(request, "browse/compare.html", {"items": items, "rows": rows})


def _compare_rows(items: list[Generation]) -> list[tuple[str, list[str], bool]]:
    """(label, one value per item, whether they differ) for every compared property."""
    params: list[str] = []
    for item in items:
        params.extend(k for k in item.request.parameters if k not in params)
    rows: list[tuple[str, list[str]]] = [
        ("Prompt", [i.request.prompt for i in items]),
        ("Model", [i.request.model for i in items]),
        *[
            (
                name.replace("_", " ").capitalize(),
                [param(i.request.parameters.get(name)) for i in items],
            )
            for name in params
        ],
        ("References", [str(i.request.reference_links.count()) for i in items]),
        ("Author", [i.request.author.display_name if i.request.author else "—" for i in items]),
        ("Status", [i.get_status_display() for i in items]),
        ("Created", [i.created_at.strftime("%Y-%m-%d %H:%M") for i in items]),
        ("Time taken", [f"{s} s" if (s := _seconds(i)) is not None else "—" for i in items]),
        ("Cost", [money(i.cost) for i in items]),
    ]
    return [(label, values, len(set(values)) > 1) for label, values in rows]


@login_required
@require_POST
def favourite(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request)
    image = access_image(membership, public_id)
    on = browse_services.favourite_set(
        membership=membership, image=image, on=request.POST.get("on") == "1"
    )
    if request.htmx:
        return render(request, "browse/grid.html#favourite", {"image": image, "is_favourite": on})
    return redirect_to_next(request)


@login_required
@require_POST
def bulk_action(request: HttpRequest) -> HttpResponseBase:
    """The multi-select bar: download a zip, delete, or compare the selected items."""
    membership = require_membership(request)
    ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    if not ids:
        messages.error(request, "Select at least one item first.")
        return redirect("home")
    if action == "compare":
        return redirect(reverse("gallery-compare") + "?" + urlencode([("ids", i) for i in ids]))
    if action == "share":  # without JavaScript; with it, the button opens the share dialog
        return redirect(reverse("share-link-new") + "?" + urlencode([("ids", i) for i in ids]))
    if action == "collect":  # the same for "Add to collection"
        return redirect(reverse("collection-add") + "?" + urlencode([("ids", i) for i in ids]))
    if len(ids) > browse_services.MAX_ITEMS:
        messages.error(request, f"Select at most {browse_services.MAX_ITEMS} items at a time.")
        return redirect("home")
    items = gallery_items(membership, ids)
    try:
        if action == "download":
            archive = browse_services.originals_zip(items)
            return FileResponse(
                archive,
                as_attachment=True,
                filename=f"seedream-{len(items)}-images.zip",
                content_type="application/zip",
            )
        if action == "delete":
            if not membership.can_generate:
                raise Http404("Viewers cannot delete.")
            count = browse_services.gallery_delete(membership=membership, generations=items)
            messages.success(request, f"Deleted {count} item{'s' if count != 1 else ''}.")
            return redirect("home")
    except ApplicationError as exc:
        messages.error(request, str(exc))
        return redirect("home")
    messages.error(request, "Choose download, compare, share, add to collection or delete.")
    return redirect("home")
