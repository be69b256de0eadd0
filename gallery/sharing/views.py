"""Shared links: the members' pages (create, list, revoke) and the public pages a link
opens (its page, password form and media), which work without an account."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.browse import services as browse_services
from gallery.browse.access import access_image, chosen_images, visible_images_q
from gallery.collection.access import access_collection
from gallery.collection.selectors import collection_images
from gallery.errors import ApplicationError, form_add_error
from gallery.generation.models import GalleryImage
from gallery.http import HtmxRequest, client_ip, dialog_render
from gallery.media import renditions, signed
from gallery.media import views as media_views
from gallery.sharing import access as sharing_access
from gallery.sharing import linkstate, passwords, proofing
from gallery.sharing import selectors as sharing_selectors
from gallery.sharing import services as sharing_services
from gallery.sharing.forms import ShareLinkEditForm, ShareLinkForm
from gallery.sharing.models import ProofingVisitor, ShareLink, ShareLinkItem
from gallery.sharing.services import ShareError
from gallery.team.access import require_membership
from gallery.team.models import Membership

# The public page: our stylesheet, our images, a form posting to ourselves, and nothing else.
PAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


# -- members' pages ------------------------------------------------------------------------------


def _chosen_images(membership: Membership, data: QueryDict) -> list[GalleryImage]:
    """The images to share, in the order chosen: ``images`` (image ids, from the detail page,
    compare and review) and ``ids`` (gallery items, from the selection bar), each checked."""
    image_ids = data.getlist("images")
    item_ids = data.getlist("ids")
    if len(image_ids) + len(item_ids) > sharing_services.MAX_ITEMS:
        raise ShareError(f"A link can hold at most {sharing_services.MAX_ITEMS} images.")
    images, missing = chosen_images(membership, image_ids, item_ids)
    if missing:
        verb = "has" if missing == 1 else "have"
        raise ShareError(
            f"Only finished images can be shared: {missing} of the selected items "
            f"{verb} no image yet."
        )
    return images


def _link_context(link: ShareLink, **extra: Any) -> dict[str, Any]:
    return {
        "link": link,
        "state": link.state,
        "url": sharing_services.share_link_address(link),
        "images": sharing_selectors.link_images(link),
        "feedback": sharing_selectors.link_feedback(link),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def link_new(request: HtmxRequest) -> HttpResponse:
    """Choose the link's settings for some images, then create it.

    Opened from the selection bar, the detail page, compare and the review queue: GET (or a
    POST of just the images) shows the form, in the share dialog for htmx; the form's own POST
    carries ``create=1`` and makes the link.
    """
    membership = require_membership(request, generate=True)
    data = request.POST if request.method == "POST" else request.GET
    creating = request.method == "POST" and data.get("create") == "1"
    collection = (
        access_collection(membership, data["collection"]) if data.get("collection") else None
    )
    try:
        if collection is not None:
            images = list(collection_images(collection).filter(visible_images_q(membership)))
        else:
            images = _chosen_images(membership, data)
        form_error = ""
    except ShareError as exc:
        images, form_error, creating = [], exc.message, False
    form = ShareLinkForm(
        data if creating else None, team=membership.team, from_collection=collection is not None
    )
    blocked = sharing_selectors.unshareable_images(membership.team, images)
    if creating and form.is_valid():
        try:
            created = sharing_services.share_link_create(
                membership=membership, images=images, collection=collection, **form.link_options()
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            response = dialog_render(
                request,
                "sharing/link.html",
                _link_context(created.link, created=True, edit_form=_edit_form(created.link)),
            )
            response["Cache-Control"] = "no-store"  # the address is in it
            return response
    return dialog_render(
        request,
        "sharing/link_new.html",
        {
            "form": form,
            "form_error": form_error,
            "images": images,
            "blocked": blocked,
            "team": membership.team,
            "collection": collection,
        },
        status=422 if creating else 200,
    )


def _edit_form(link: ShareLink, data: QueryDict | None = None) -> ShareLinkEditForm:
    return ShareLinkEditForm(
        data,
        team=link.team,
        expires_at=link.expires_at,
        initial={
            "allow_download": link.allow_download,
            "show_metadata": link.show_metadata,
            "proofing": link.proofing,
            "note": link.note,
        },
    )


@login_required
@require_GET
def link_detail(request: HtmxRequest, public_id: str) -> HttpResponse:
    """A link again: its address to copy (and as a QR code), its use, and its settings."""
    membership = require_membership(request, generate=True)
    link = sharing_access.access_link_to_manage(membership, public_id)
    response = dialog_render(
        request, "sharing/link.html", _link_context(link, edit_form=_edit_form(link))
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def link_edit(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    link = sharing_access.access_link_to_manage(membership, public_id)
    form = _edit_form(link, request.POST)
    saved = False
    if form.is_valid():
        try:
            link = sharing_services.share_link_update(link=link, actor=membership, **form.changes())
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            saved = True
            if not request.htmx:
                messages.success(request, "Link updated. Its address stays the same.")
                return redirect("share-link", public_id=link.public_id)
            form = _edit_form(link)
    response = dialog_render(
        request,
        "sharing/link.html",
        _link_context(link, edit_form=form, saved=saved),
        status=200 if saved or form.is_valid() else 422,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def links(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    rows = list(
        sharing_selectors.links_for(membership)
        .annotate(item_count=Count("items"))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=ShareLinkItem.objects.select_related("image").order_by("position"),
            )
        )
    )
    now = timezone.now()
    return render(
        request,
        "sharing/links.html",
        {
            "rows": [
                (
                    link,
                    link.state_at(now),
                    list(link.items.all())[:4],
                    sharing_access.link_can_manage(membership, link),
                )
                for link in rows
            ],
        },
    )


@login_required
@require_POST
def link_revoke(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    link = sharing_access.access_link_to_manage(membership, public_id)
    if sharing_services.share_link_revoke(link=link, membership=membership):
        messages.success(request, f"Revoked “{link}”. It stops working now.")
    else:
        messages.info(request, f"“{link}” was already revoked.")
    return redirect("share-links")


@login_required
@require_GET
def member_thumb(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """A small thumbnail of an image the member can see, for the sharing pages."""
    image = access_image(require_membership(request), public_id)
    return media_views.media_response(image, "thumb", cache_control="private, max-age=60")


# -- public pages --------------------------------------------------------------------------------


def _public(response: HttpResponse) -> HttpResponse:
    """Headers every public page under a link carries."""
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = PAGE_CSP
    # The token is in the URL: never send it elsewhere. (Not "no-referrer": Chrome then sends
    # "Origin: null" with the password form, which CSRF protection rightly refuses.)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _gone(request: HttpRequest) -> HttpResponse:
    return _public(render(request, "sharing/gone.html", status=410))


def _password_page(
    request: HttpRequest,
    link: ShareLink,
    token: str,
    error: str,
    *,
    ticket: str = "",
    limited: bool = False,
    status: int = 200,
) -> HttpResponse:
    form = passwords.password_form(request, link, ticket)
    return _public(
        render(
            request,
            "sharing/password.html",
            {
                "token": token,
                "error": error,
                "limited": limited,
                "waited": form.ticket,
                "wait_seconds": form.wait_seconds,
            },
            status=status,
        )
    )


@require_http_methods(["GET", "POST"])
def shared(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = sharing_access.link_resolve(token)
    except sharing_access.LinkGone:
        return _gone(request)
    error = ""
    status = 200
    ticket = request.POST.get("waited", "")
    if request.method == "POST" and not sharing_access.is_unlocked(request, link):
        try:
            password = request.POST.get("password", "")
            if passwords.password_check(request, link, password, ticket):
                return _public(redirect("shared", token=token))
            error = "That password is not right."
            status = 403
        except passwords.PasswordRateLimited as exc:
            if exc.slowed:
                error = (
                    "Many wrong passwords have been tried on this link, so every try has to "
                    f"wait a little: try again in {exc.retry_after} seconds."
                )
                response = _password_page(request, link, token, error, ticket=ticket, status=429)
            else:
                minutes = max(1, exc.retry_after // 60)
                error = f"Too many wrong passwords. Try again in {minutes} minutes."
                response = _password_page(request, link, token, error, limited=True, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
    if not sharing_access.is_unlocked(request, link):
        return _password_page(request, link, token, error, status=status)
    if request.method == "POST":  # an unlocked visitor re-posting the form
        return _public(redirect("shared", token=token))
    images = sharing_selectors.link_images(link)
    sharing_services.link_count_view(link)
    base = settings.SITE_URL.rstrip("/")
    og_image = (
        f"{base}/s/{token}/i/{images[0].public_id}/preview/"
        if images and not link.has_password
        else ""
    )
    visitor = _visitor(request, link) if link.proofing else None
    linkstate.prime(link)
    picked, comments = sharing_selectors.visitor_marks(visitor) if visitor else (set(), {})
    return _public(
        render(
            request,
            "sharing/shared.html",
            {
                "link": link,
                "token": token,
                "images": images,
                "media_src": _preview_urls(link, token, images),
                "share_url": sharing_services.share_url(token),
                "og_image": og_image,
                "visitor": visitor,
                "picked": picked,
                "comments": comments,
                "comment_max": proofing.COMMENT_MAX_CHARS,
                "name_max": proofing.NAME_MAX_CHARS,
            },
        )
    )


def _preview_urls(link: ShareLink, token: str, images: list[GalleryImage]) -> dict[int, str]:
    """Each image's preview as the page shows it: a signed URL served without the database
    (``linkstate``), or the checked ``shared-media`` view when there is no such file (media
    on S3, an image stored without thumbnails)."""
    capped = None if link.allow_download else sharing_selectors.PREVIEW_WIDTH_WITHOUT_DOWNLOAD
    fingerprint = linkstate.fingerprint(link)
    urls = {}
    for image in images:
        try:
            name, _ = renditions.image_rendition(image, "preview", max_width=capped)
        except LookupError:
            name = ""
        urls[image.pk] = signed.link_thumbnail_url(
            linkstate.media_key(link), fingerprint, name
        ) or reverse("shared-media", args=[token, image.public_id, "preview"])
    return urls


@require_GET
def shared_media(
    request: HttpRequest, token: str, public_id: str, variant: str
) -> HttpResponseBase:
    """Media under a link, checked on every request: the link is live, the image is in it, the
    password was given in this session, and originals only when downloads are allowed (then
    without their metadata; without downloads, previews at most 800 px wide)."""
    if variant not in renditions.VARIANTS:
        raise Http404("No such variant.")
    try:
        link = sharing_access.link_resolve(token)
    except sharing_access.LinkGone:
        return _gone(request)
    if not sharing_access.is_unlocked(request, link):
        raise Http404("This link needs its password first.")
    if variant == "download" and not link.allow_download:
        raise Http404("Downloads are off for this link.")
    image = sharing_access.link_image(link, public_id)
    if variant == "download":
        response = media_views.public_original_response(image)
        sharing_services.link_count_download(link)
        return response
    capped = None if link.allow_download else sharing_selectors.PREVIEW_WIDTH_WITHOUT_DOWNLOAD
    return media_views.media_response(image, variant, max_width=capped)


# -- proofing: the visitors' actions (public) and what the team sees -----------------------------

PROOFING_COOKIE = "proofing"


def _proofing_salt(link: ShareLink) -> str:
    return f"proofing:{link.public_id}"


def _visitor(request: HttpRequest, link: ShareLink) -> ProofingVisitor | None:
    """The visitor this browser is on ``link`` (a signed cookie scoped to the link's path)."""
    key = request.get_signed_cookie(PROOFING_COOKIE, default=None, salt=_proofing_salt(link))
    return sharing_selectors.proofing_visitor(link, key) if key else None


def _refused(request: HttpRequest, token: str, message: str, status: int) -> HttpResponse:
    return _public(
        render(
            request,
            "sharing/proofing_refused.html",
            {"token": token, "message": message},
            status=status,
        )
    )


def _proofing_action(
    request: HttpRequest, token: str, action: Callable[[ShareLink], HttpResponse]
) -> HttpResponse:
    """Run a visitor's proofing action: only on a live link (410 otherwise) that is unlocked
    and proofing (404 otherwise); refusals in words, rate limits as 429."""
    try:
        link = sharing_access.link_resolve(token)
    except sharing_access.LinkGone:
        return _gone(request)
    if not link.proofing or not sharing_access.is_unlocked(request, link):
        raise Http404("No proofing here.")
    try:
        return action(link)
    except proofing.ProofingRateLimited as exc:
        response = _refused(request, token, exc.message, 429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except ApplicationError as exc:
        return _refused(request, token, exc.message, 400)


def _back_to(token: str, anchor: str = "") -> HttpResponse:
    response = redirect(reverse("shared", args=[token]) + (f"#{anchor}" if anchor else ""))
    response.status_code = 303
    return response


@require_POST
def shared_proof_name(request: HttpRequest, token: str) -> HttpResponse:
    """A visitor gives their name; their browser keeps who they are (a signed cookie)."""

    def act(link: ShareLink) -> HttpResponse:
        visitor = proofing.proofing_visitor_create(
            link=link, name=request.POST.get("name", ""), client=client_ip(request)
        )
        response = _public(_back_to(token, "proofing"))
        response.set_signed_cookie(
            PROOFING_COOKIE,
            str(visitor.key),
            salt=_proofing_salt(link),
            max_age=365 * 24 * 3600,
            path=reverse("shared", args=[token]),
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
        return response

    return _proofing_action(request, token, act)


def _visitor_or_refuse(request: HttpRequest, link: ShareLink) -> ProofingVisitor:
    visitor = _visitor(request, link)
    if visitor is None:
        raise ShareError("Give your name at the top of the page first.")
    return visitor


@require_POST
def shared_proof_pick(request: HttpRequest, token: str, public_id: str) -> HttpResponse:
    def act(link: ShareLink) -> HttpResponse:
        visitor = _visitor_or_refuse(request, link)
        image = sharing_access.link_image(link, public_id)
        proofing.proofing_pick_set(
            link=link, visitor=visitor, image=image, on=request.POST.get("on") == "1"
        )
        return _public(_back_to(token, f"img-{image.public_id}"))

    return _proofing_action(request, token, act)


@require_POST
def shared_proof_comment(request: HttpRequest, token: str, public_id: str) -> HttpResponse:
    def act(link: ShareLink) -> HttpResponse:
        visitor = _visitor_or_refuse(request, link)
        image = sharing_access.link_image(link, public_id)
        proofing.proofing_comment_add(
            link=link, visitor=visitor, image=image, body=request.POST.get("body", "")
        )
        return _public(_back_to(token, f"img-{image.public_id}"))

    return _proofing_action(request, token, act)


@login_required
@require_GET
def link_picks_zip(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """The originals of the images visitors picked on the link, as one zip."""
    membership = require_membership(request, generate=True)
    link = sharing_access.access_link_to_manage(membership, public_id)
    images = sharing_selectors.link_picked_images(link)
    if not images:
        messages.info(request, "No one has picked an image on this link yet.")
        return redirect("share-link", public_id=link.public_id)
    archive = browse_services.originals_zip([image.generation for image in images])
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"seedream-picks-{len(images)}-images.zip",
        content_type="application/zip",
    )


def _csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ (or tab/CR) would start a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
@require_GET
def link_feedback_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    """Every pick and comment on the link, one row each, as CSV."""
    membership = require_membership(request, generate=True)
    link = sharing_access.access_link_to_manage(membership, public_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="link-{str(link.public_id)[:8]}-feedback.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["kind", "visitor", "image", "item", "prompt", "comment", "at"])
    base = settings.SITE_URL.rstrip("/")
    for entry in sharing_selectors.link_feedback(link):
        rows = [("pick", p.image, "", p.created_at) for p in entry.picks] + [
            ("comment", c.image, c.body, c.created_at) for c in entry.comments
        ]
        for kind, image, body, at in rows:
            generation = image.generation
            writer.writerow(
                [
                    kind,
                    _csv_cell(entry.visitor.name),
                    str(image.public_id),
                    base + reverse("gallery-detail", args=[generation.public_id]),
                    _csv_cell(generation.request.prompt),
                    _csv_cell(body),
                    at.isoformat(),
                ]
            )
    response["Cache-Control"] = "no-store"
    return response
