"""Collections: the team's list, one collection's grid (with the gallery's filters and its
own order), and the forms that make, change, fill, reorder and delete them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.browse.access import access_image, chosen_images
from gallery.browse.views import filter_form, filter_query
from gallery.collection import services as collection_services
from gallery.collection.access import (
    access_collection,
    access_collection_to_delete,
    access_collection_to_edit,
)
from gallery.collection.forms import CollectionAddForm, CollectionForm
from gallery.collection.selectors import (
    PositionCursor,
    collection_list,
    collection_page,
)
from gallery.errors import ApplicationError, form_add_error
from gallery.generation.models import GalleryImage
from gallery.http import HtmxRequest, dialog_render
from gallery.team.access import require_membership
from gallery.team.models import Membership


@login_required
@require_GET
def collections(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    return _list_page(request, membership, CollectionForm())


def _list_page(
    request: HttpRequest, membership: Membership, form: CollectionForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "collection/list.html",
        {"collections": collection_list(membership), "form": form},
        status=status,
    )


@login_required
@require_POST
def collection_new(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, generate=True)
    form = CollectionForm(request.POST)
    if form.is_valid():
        try:
            collection = collection_services.collection_create(
                membership=membership, **form.cleaned_data
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            messages.success(request, f"Made the collection “{collection.name}”.")
            return redirect("collection", public_id=collection.public_id)
    return _list_page(request, membership, form, status=422)


@login_required
@require_GET
def collection_detail(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request)
    collection = access_collection(membership, public_id)
    form = filter_form(request, membership)
    filters = form.filters()
    cursor = PositionCursor.decode(request.GET.get("cursor", ""))
    page = collection_page(membership, collection, filters=filters, cursor=cursor)
    context: dict[str, Any] = {
        "collection": collection,
        "page": page,
        "query": filter_query(request),
        "reorder": membership.can_generate and not filters.active,
    }
    if request.htmx and cursor is not None:
        return render(request, "collection/detail.html#page", context)
    context |= {
        "form": form,
        "filters": filters,
        "deep": cursor is not None,
        "edit_form": CollectionForm(
            initial={"name": collection.name, "description": collection.description}
        ),
    }
    return render(request, "collection/detail.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def collection_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    collection = access_collection_to_edit(membership, public_id)
    form = CollectionForm(request.POST)
    if form.is_valid():
        try:
            collection_services.collection_update(
                membership=membership,
                collection=collection,
                cover=collection.cover,
                **form.cleaned_data,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Saved.")
    else:
        messages.error(request, "Give the collection a name (at most 100 characters).")
    return redirect("collection", public_id=collection.public_id)


@login_required
@require_POST
def collection_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    collection = access_collection_to_delete(membership, public_id)
    name = collection.name
    collection_services.collection_delete(membership=membership, collection=collection)
    messages.success(request, f"Deleted the collection “{name}”. Its images stay in the gallery.")
    return redirect("collections")


def _chosen(membership: Membership, data: QueryDict) -> list[GalleryImage]:
    images, missing = chosen_images(membership, data.getlist("images"), data.getlist("ids"))
    if missing:
        verb = "has" if missing == 1 else "have"
        raise collection_services.CollectionError(
            f"Only finished images can be collected: {missing} of the selected items "
            f"{verb} no image yet."
        )
    return images


@login_required
@require_http_methods(["GET", "POST"])
def collection_add(request: HtmxRequest) -> HttpResponse:
    """Add images to a collection: from the selection bar (``ids``), the detail page and the
    collection picker (``images``). GET (or a POST of just the images) shows where they can
    go, in the dialog for htmx; the form's own POST carries ``add=1``."""
    membership = require_membership(request, generate=True)
    data = request.POST if request.method == "POST" else request.GET
    adding = request.method == "POST" and data.get("add") == "1"
    error = ""
    try:
        images = _chosen(membership, data)
    except ApplicationError as exc:
        images, error, adding = [], exc.message, False
    # A collection id is checked like any other (404 for another team's), not as a choice.
    chosen = None
    if adding and data.get("collection"):
        chosen = access_collection_to_edit(membership, data["collection"])
    options = collection_list(membership)
    form = CollectionAddForm(data if adding else None, collections=options)
    if adding and images and form.is_valid():
        try:
            if chosen is not None:
                collection = chosen
            else:
                collection = collection_services.collection_create(
                    membership=membership, name=form.cleaned_data["new_name"]
                )
            added = collection_services.collection_add(
                membership=membership, collection=collection, images=images
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            count = len(images)
            already = count - added
            text = f"Added {added} image{'s' if added != 1 else ''} to “{collection.name}”."
            if already:
                text += f" {already} {'was' if already == 1 else 'were'} in it already."
            if not request.htmx:
                messages.success(request, text)
                return redirect("collection", public_id=collection.public_id)
            return dialog_render(
                request, "collection/added.html", {"collection": collection, "text": text}
            )
    return dialog_render(
        request,
        "collection/add.html",
        {"form": form, "images": images, "error": error},
        status=422 if adding else 200,
    )


@login_required
@require_GET
def collection_tray(request: HttpRequest) -> HttpResponse:
    """The drop targets the gallery shows while a finished tile is dragged: the team's
    collections (the drop posts to ``collection_add`` like the selection bar). Loaded when a
    drag starts, so the gallery page itself costs no query for it."""
    membership = require_membership(request, generate=True)
    return render(request, "collection/_tray.html", {"collections": collection_list(membership)})


def _back(request: HttpRequest, public_id: object) -> HttpResponse:
    return redirect(reverse("collection", args=[public_id]) + _anchor(request))


def _anchor(request: HttpRequest) -> str:
    anchor = request.POST.get("anchor", "")
    return f"#{anchor}" if anchor.replace("-", "").isalnum() and anchor else ""


@login_required
@require_POST
def collection_remove(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    collection = access_collection_to_edit(membership, public_id)
    try:
        images = _chosen(membership, request.POST)
        removed = collection_services.collection_remove(
            membership=membership, collection=collection, images=images
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Took {removed} image{'s' if removed != 1 else ''} out of the collection."
        )
    return redirect("collection", public_id=collection.public_id)


@login_required
@require_POST
def collection_move(request: HtmxRequest, public_id: str) -> HttpResponse:
    """Reorder: ``image`` moves by ``step`` (-1 or 1: the buttons) or in front of ``before``
    (empty: to the end; a drop). htmx and scripts get 204; a plain form comes back to the page."""
    membership = require_membership(request, generate=True)
    collection = access_collection_to_edit(membership, public_id)
    if not request.POST.get("image"):
        messages.error(request, "Choose an image to move.")
        return _back(request, collection.public_id)
    image = access_image(membership, request.POST["image"])
    step_value = request.POST.get("step", "")
    before_value = request.POST.get("before", "")
    step = None
    if step_value:
        if step_value not in ("-1", "1"):
            raise Http404("No such move.")
        step = int(step_value)
    before = access_image(membership, before_value) if before_value and step is None else None
    try:
        collection_services.collection_move(
            membership=membership, collection=collection, image=image, before=before, step=step
        )
    except ApplicationError as exc:
        if request.htmx or request.headers.get("X-Requested-With") == "fetch":
            return HttpResponse(exc.message, status=422, content_type="text/plain")
        messages.error(request, exc.message)
    else:
        if request.htmx or request.headers.get("X-Requested-With") == "fetch":
            return HttpResponse(status=204)
    return _back(request, collection.public_id)


@login_required
@require_POST
def collection_cover(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    collection = access_collection_to_edit(membership, public_id)
    if not request.POST.get("image"):
        messages.error(request, "Choose an image for the cover.")
        return _back(request, collection.public_id)
    image = access_image(membership, request.POST["image"])
    try:
        collection_services.collection_update(
            membership=membership,
            collection=collection,
            name=collection.name,
            description=collection.description,
            cover=image,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Cover chosen.")
    return _back(request, collection.public_id)
