"""Generating: the form, reference uploads, and the buttons that act on a generation
(cancel, retry, re-run, use as reference)."""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gallery import oxen
from gallery.browse.access import access_gallery_item, access_image
from gallery.browse.selectors import GalleryFilters, gallery_page, gallery_tile
from gallery.budget.selectors import budget_summary
from gallery.budget.services import BudgetExceeded, BurstLimited, burst_check
from gallery.errors import ApplicationError
from gallery.generation import create, references
from gallery.generation.access import access_request
from gallery.generation.create import (
    REFERENCES_FIELD,
    GenerationBusy,
    GenerationInputError,
    generation_request_create,
)
from gallery.generation.forms import GenerateForm, remix_initial
from gallery.generation.lifecycle import Status
from gallery.generation.models import Reference
from gallery.generation.references import reference_upload
from gallery.generation.retry import (
    generation_approve,
    generation_cancel,
    generation_decline,
    generation_retry,
)
from gallery.generation.selectors import reference_library, references_in_order
from gallery.http import HtmxRequest
from gallery.media import imaging
from gallery.media.imaging import ImageRejected
from gallery.team.access import require_membership
from gallery.team.models import Membership
from seedream import limits
from seedream.errors import OxenError
from seedream.schema import RequestSchema


def _schema() -> tuple[RequestSchema | None, str, str]:
    """The model's schema (live, read within a few seconds, or the stored copy), a sentence
    saying why there is none, and one saying a stored copy is in use and what that means."""
    read = oxen.schema_read(
        model=settings.OXEN_MODEL, timeout=oxen.FORM_SCHEMA_TIMEOUT, store=False
    )
    if read.schema is None:
        return None, read.error.user_message if read.error else "", ""
    if read.stored_at is None:
        return read.schema, "", ""
    when = timezone.localtime(read.stored_at).strftime("%Y-%m-%d %H:%M %Z")
    notice = (
        f"Oxen is not answering just now, so this form is using the settings stored at {when}. "
        "What you generate waits here and is sent as soon as Oxen answers."
    )
    return read.schema, "", notice


def _max_references(schema: RequestSchema | None) -> int:
    limit = schema.reference_max_items if schema else None
    return limits.MAX_REFERENCES if limit is None else limit


def _uploads(
    membership: Membership, files: list[UploadedFile[Any]]
) -> tuple[list[tuple[str, Reference]], list[str]]:
    """Each file verified and stored as a team reference (with the file's name); a readable
    error per refused file."""
    stored: list[tuple[str, Reference]] = []
    errors: list[str] = []
    for upload in files:
        name = upload.name or "file"
        if upload.size is not None and upload.size > settings.UPLOAD_MAX_BYTES:
            errors.append(_too_large(name))
            continue
        try:
            reference = reference_upload(
                team=membership.team,
                user=membership.user,
                upload=cast(BinaryIO, upload),
                name=name,
            )
            stored.append((name, reference))
        except ImageRejected as exc:
            errors.append(f"{name}: {exc}")
    return stored, errors


@login_required
@require_http_methods(["GET", "POST"])
def generate(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, generate=True)
    schema, schema_error, schema_notice = _schema()
    reference_errors: list[str] = []
    count_error = ""
    other_errors: list[str] = []
    burst: BurstLimited | None = None
    busy = False
    if request.method == "POST":
        try:
            burst_check(membership=membership)
        except BurstLimited as exc:
            burst = exc
    if burst is not None:
        # Nothing is read, stored or sent: the form comes back as it was, with why.
        form = GenerateForm(request.POST.copy(), schema=schema)
        references = references_in_order(membership, request.POST.getlist("reference"))
        other_errors.append(burst.message)
        status = 429
    elif request.method == "POST":
        data = request.POST.copy()
        form = GenerateForm(data, schema=schema)
        references = references_in_order(membership, request.POST.getlist("reference"))
        files = request.FILES.getlist("uploads")
        limit = _max_references(schema)
        # Counted before any upload is decoded or stored: over the cap, none of them is.
        if len(references) + len(files) > limit:
            count_error = _count_error(limit, len(references) + len(files))
        else:
            uploaded, reference_errors = _uploads(membership, files)
            references, duplicates = _deduplicated(data, references, uploaded)
            reference_errors += duplicates
        if form.is_valid() and schema is not None and not reference_errors and not count_error:
            try:
                made = generation_request_create(
                    team=membership.team,
                    author=membership.user,
                    prompt=form.cleaned_data["prompt"],
                    parameters=form.parameters(),
                    references=references,
                    batch_size=form.cleaned_data["batch_size"],
                    schema=schema,
                    model=settings.OXEN_MODEL,
                    remix_of=_remix_of(membership, form.cleaned_data.get("remix_of", "")),
                )
            except GenerationInputError as exc:
                leftover = form.add_schema_errors(exc.by_field)
                reference_errors += leftover.pop(REFERENCES_FIELD, [])
                other_errors += [message for messages in leftover.values() for message in messages]
            except BudgetExceeded as exc:
                other_errors.append(exc.message)
            except GenerationBusy as exc:
                other_errors.append(exc.message)
                busy = True
            else:
                # Stay on the form, as it was, with the new tiles arriving in the strip below.
                count = form.cleaned_data["batch_size"]
                plural = "s" if count != 1 else ""
                held = made.generations.filter(status=Status.AWAITING_APPROVAL).first()
                if held is not None:
                    messages.warning(request, held.last_error)
                else:
                    messages.success(request, f"Generating {count} image{plural}.")
                return redirect(reverse("generate") + f"?last={made.public_id}")
        status = 503 if busy else 422
    else:
        initial, references = _prefill(request, membership)
        form = GenerateForm(initial=initial, schema=schema)
        status = 200
    cost, images = form.cost()
    context: dict[str, Any] = {
        "form": form,
        "schema": schema,
        "schema_error": schema_error,
        "schema_notice": schema_notice,
        "drop_zone": _drop_zone_checks(),
        "references": references,
        "reference_errors": reference_errors,
        "count_error": count_error,
        "other_errors": other_errors,
        "library": reference_library(
            membership,
            query=request.GET.get("library_q", ""),
            page=_page_number(request.GET.get("library_page")),
        ),
        "max_references": _max_references(schema),
        "count_error_template": COUNT_ERROR.replace("{limit}", str(_max_references(schema))),
        "prefilled": request.method == "GET" and bool(request.GET.get("last")),
        "results": gallery_page(
            membership, filters=GalleryFilters(author=membership.user.username), size=RESULTS
        ).items,
        "live_since": f"{timezone.now().timestamp():.6f}",
        "cost": cost,
        "images": images,
        "cost_per_image": form.price_per_image(),
        "prices_by_size": {k: str(v) for k, v in schema.prices_by_size().items()} if schema else {},
        "budget": budget_summary(membership),
    }
    response = render(request, "generation/generate.html", context, status=status)
    if burst is not None:
        response["Retry-After"] = str(burst.retry_after)
    return response


# One wording for "too many references", shown by the drop zone as files are added (the page
# hands it this template) and by the server when such a form is posted anyway.
COUNT_ERROR = "Seedream takes at most {limit} reference images; you have {count}. Remove {extra}."
RESULTS = 8  # tiles in the strip under the form: this member's latest


def _deduplicated(
    data: QueryDict, chosen: list[Reference], uploaded: list[tuple[str, Reference]]
) -> tuple[list[Reference], list[str]]:
    """The chosen references, then the uploads, each image once. A file that repeats one
    already there is dropped with a note beside the references saying which @ImageN it is,
    and the prompt's tags are renumbered to match (in ``data``, which the form shows): the
    page comes back for a look before anything is sent."""
    given = chosen + [ref for _, ref in uploaded]
    names = [str(ref) for ref in chosen] + [name for name, _ in uploaded]
    prompt = data.get("prompt", "")
    result = create.references_deduplicated(prompt=prompt, references=given)
    renumbered = (
        " and the prompt's @Image tags were renumbered to match"
        if (result.prompt != prompt)
        else ""
    )
    notes = [
        f"{names[position - 1]} is the same image as @Image{kept}, so it is used once"
        f"{renumbered}. Check the prompt, then press Generate."
        for position, kept in result.dropped
    ]
    if result.dropped:
        data["prompt"] = result.prompt
    return result.references, notes


def _count_error(limit: int, count: int) -> str:
    return COUNT_ERROR.format(limit=limit, count=count, extra=count - limit)


def _too_large(name: str) -> str:
    return f"{name}: this file is larger than {settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB."


def _drop_zone_checks() -> dict[str, Any]:
    """What the drop zone checks as each file is added, with the sentences to say: the same
    limits and words as ``_uploads`` and ``imaging.reference_check_for_seedream``, so a file
    the browser lets through is one the server takes (on the bytes the browser can see: the
    file as chosen; Seedream's 10 MB applies to the re-encoded copy, checked here)."""
    return {
        "min_side": limits.REFERENCE_MIN_SIDE,
        "max_aspect": limits.REFERENCE_MAX_ASPECT,
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "too_large": _too_large("{name}"),
        "too_small": "{name}: " + imaging.REFERENCE_TOO_SMALL,
        "bad_aspect": "{name}: " + imaging.REFERENCE_BAD_ASPECT,
    }


def _page_number(value: str | None) -> int:
    try:
        return max(1, min(1000, int(value or 1)))
    except ValueError:
        return 1


def _remix_of(membership: Membership, public_id: str) -> Any:
    if not public_id:
        return None
    try:
        return access_request(membership, public_id)
    except Http404:
        return None  # a stale hidden field must not lose the person's work


def _prefill(request: HttpRequest, membership: Membership) -> tuple[dict[str, Any], list[Any]]:
    """Initial values: a remixed request's, plus any references named in ``?ref=``."""
    initial: dict[str, Any] = {}
    references: list[Reference] = []
    remix = request.GET.get("remix")
    last = request.GET.get("last")  # just generated: the same form again, ready to iterate
    if remix or last:
        original = access_request(membership, remix or last)
        initial = remix_initial(original, remix=bool(remix))
        references = original.ordered_references()
    extra = references_in_order(membership, request.GET.getlist("ref"))
    references = list(dict.fromkeys([*references, *extra]))
    return initial, references


@login_required
@require_GET
def reference_library_view(request: HttpRequest) -> HttpResponse:
    """One page of the team's reference library (search and paging in the generate form)."""
    membership = require_membership(request, generate=True)
    library = reference_library(
        membership,
        query=request.GET.get("library_q", ""),
        page=_page_number(request.GET.get("library_page")),
    )
    return render(request, "generation/generate.html#library", {"library": library})


@login_required
@require_POST
def reference_upload_view(request: HttpRequest) -> HttpResponse:
    """Uploads from the drop zone, stored at once so they survive any error in the form;
    answers with reference chips (and the refusals) for the page to insert."""
    membership = require_membership(request, generate=True)
    files = request.FILES.getlist("uploads")
    stored: list[Reference] = []
    if len(files) > limits.MAX_REFERENCES:  # no request can use more; decode none of them
        errors = [_count_error(limits.MAX_REFERENCES, len(files))]
    else:
        uploaded, errors = _uploads(membership, files)
        stored = list(dict.fromkeys(ref for _, ref in uploaded))
    return render(
        request,
        "generation/generate.html#uploaded",
        {"references": stored, "reference_errors": errors},
        status=200 if stored or not errors else 422,
    )


@login_required
@require_POST
def cancel(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    generation = access_gallery_item(membership, public_id)
    if not generation_cancel(generation_id=generation.pk):
        messages.error(request, "It could not be cancelled: it may have just finished.")
    return _tile_or_back(request, membership, generation.public_id)


@login_required
@require_POST
def retry(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    generation = access_gallery_item(membership, public_id)
    try:
        burst_check(membership=membership)
        new = generation_retry(generation_id=generation.pk, by=membership.user)
    except BurstLimited as exc:
        return _burst_limited(request, membership, generation.public_id, exc)
    except ApplicationError as exc:
        return _refused(request, membership, generation.public_id, exc)
    return _tile_or_back(request, membership, new.public_id)


@login_required
@require_POST
def approve(request: HtmxRequest, public_id: str) -> HttpResponse:
    """An owner or admin sends a request the budget's approval threshold held."""
    membership = require_membership(request, manage=True)
    generation = access_gallery_item(membership, public_id)
    try:
        generation_approve(generation_id=generation.pk, by=membership.user)
    except ApplicationError as exc:
        return _refused(request, membership, generation.public_id, exc)
    if not request.htmx:
        messages.success(request, "Approved: it is being sent to Oxen.")
    return _tile_or_back(request, membership, generation.public_id)


@login_required
@require_POST
def decline(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, manage=True)
    generation = access_gallery_item(membership, public_id)
    try:
        generation_decline(
            generation_id=generation.pk, by=membership.user, reason=request.POST.get("reason", "")
        )
    except ApplicationError as exc:
        return _refused(request, membership, generation.public_id, exc)
    return _tile_or_back(request, membership, generation.public_id)


def _refused(
    request: HtmxRequest, membership: Membership, public_id: Any, exc: ApplicationError
) -> HttpResponse:
    """The tile again with why (htmx), or back with the reason as a flash."""
    if request.htmx:
        return _tile_or_back(request, membership, public_id, notice=exc.message)
    messages.error(request, exc.message)
    return _tile_or_back(request, membership, public_id)


def _burst_limited(
    request: HtmxRequest, membership: Membership, public_id: Any, exc: BurstLimited
) -> HttpResponse:
    """429, with the tile and why (htmx swaps a 429: see base.html), or a page saying so."""
    if request.htmx:
        response = _tile_or_back(request, membership, public_id, notice=exc.message)
    else:
        response = render(request, "budget/too_many.html", {"message": exc.message})
    response.status_code = 429
    response["Retry-After"] = str(exc.retry_after)
    return response


def _tile_or_back(
    request: HtmxRequest, membership: Membership, public_id: Any, *, notice: str = ""
) -> HttpResponse:
    if request.htmx:
        return render(
            request,
            "browse/grid.html#tile",
            {"g": gallery_tile(membership, public_id), "tile_notice": notice},
        )
    if request.POST.get("from") == "detail":
        return redirect("gallery-detail", public_id=public_id)
    return redirect("home")


@login_required
@require_POST
def rerun(request: HtmxRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    original = access_request(membership, public_id)
    try:
        burst_check(membership=membership)
        create.generation_request_rerun(membership=membership, original=original)
    except BurstLimited as exc:
        return _burst_limited(request, membership, None, exc)
    except BudgetExceeded as exc:
        messages.error(request, exc.message)
        return redirect("home")
    except GenerationInputError as exc:
        messages.error(request, f"It cannot be run again as it was: {exc}")
        return redirect(reverse("generate") + f"?remix={original.public_id}")
    except OxenError as exc:
        messages.error(request, exc.user_message)
        return redirect("home")
    messages.success(request, "Running it again.")
    return redirect("home")


@login_required
@require_POST
def use_as_reference(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = require_membership(request, generate=True)
    image = access_image(membership, public_id)
    try:
        reference = references.reference_from_image(membership=membership, image=image)
    except ImageRejected as exc:
        messages.error(request, f"This image cannot be used as a reference: {exc}")
        return redirect("home")
    return redirect(reverse("generate") + f"?ref={reference.public_id}")
