"""Shared links: the members' pages (create, list, revoke) and the public pages a link
opens (its page, password form and media), which work without an account."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery.browse.access import access_image
from gallery.errors import ApplicationError, form_add_error
from gallery.generation.models import GalleryImage
from gallery.media import renditions
from gallery.media import views as media_views
from gallery.sharing import access as sharing_access
from gallery.sharing import passwords
from gallery.sharing import selectors as sharing_selectors
from gallery.sharing import services as sharing_services
from gallery.sharing.forms import ShareLinkForm
from gallery.sharing.models import ShareLink, ShareLinkItem
from gallery.team.access import require_membership
from gallery.team.models import Membership

# The public page: our stylesheet, our images, a form posting to ourselves, and nothing else.
PAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


# -- members' pages ------------------------------------------------------------------------------


def _chosen_images(membership: Membership, values: list[str]) -> list[GalleryImage]:
    if len(values) > sharing_services.MAX_ITEMS:
        raise Http404("Too many images.")
    images: list[GalleryImage] = []
    for value in dict.fromkeys(values):  # unique, in the order chosen
        images.append(access_image(membership, value))
    return images


@login_required
@require_http_methods(["GET", "POST"])
def link_new(request: HttpRequest) -> HttpResponse:
    """Choose the link's settings for some images, then create it.

    Entry point for the gallery: GET ``/links/new/?images=<uuid>&images=<uuid>`` (or a POST of
    just ``images``) shows the form; the form's own POST carries ``create=1`` and makes the link.
    """
    membership = require_membership(request, generate=True)
    data = request.POST if request.method == "POST" else request.GET
    images = _chosen_images(membership, data.getlist("images"))
    creating = request.method == "POST" and data.get("create") == "1"
    form = ShareLinkForm(data if creating else None, team=membership.team)
    blocked = sharing_selectors.unshareable_images(membership.team, images)
    if creating and form.is_valid():
        try:
            created = sharing_services.share_link_create(
                membership=membership, images=images, **form.cleaned_data
            )
        except ApplicationError as exc:
            form_add_error(form, exc)
        else:
            # The token exists only in this response: render it, never redirect with it.
            response = render(
                request,
                "sharing/link_created.html",
                {"link": created.link, "url": created.url, "images": images},
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "sharing/link_new.html",
        {"form": form, "images": images, "blocked": blocked, "team": membership.team},
        status=422 if creating else 200,
    )


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
    membership = require_membership(request)
    link = sharing_access.access_link(membership, public_id)
    try:
        revoked = sharing_services.share_link_revoke(link=link, membership=membership)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("share-links")
    if revoked:
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
    return _public(
        render(
            request,
            "sharing/shared.html",
            {
                "link": link,
                "token": token,
                "images": images,
                "share_url": sharing_services.share_url(token),
                "og_image": og_image,
            },
        )
    )


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
