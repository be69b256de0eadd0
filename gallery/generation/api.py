"""The API's generations and references (``/api/v1/generations``, ``/api/v1/references``):
the same access checks, selectors and services as the generate page and the gallery's
buttons (``generation_request_create``, ``generation_cancel``, ``generation_retry``,
``reference_upload``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile as NinjaUploadedFile

from gallery import oxen
from gallery.api.auth import caller_of, require_scope
from gallery.api.idempotency import idempotent
from gallery.api.models import Scope
from gallery.api.problems import ERRORS, Problem
from gallery.browse.access import access_gallery_item
from gallery.browse.selectors import Cursor, GalleryFilters, gallery_page
from gallery.errors import ApplicationError
from gallery.generation.access import access_generation, access_reference
from gallery.generation.create import REFERENCES_FIELD, GenerationInputError
from gallery.generation.create import generation_request_create as request_create
from gallery.generation.models import Generation, GenerationRequest, Reference
from gallery.generation.references import reference_from_url, reference_upload
from gallery.generation.retry import generation_cancel, generation_retry
from gallery.generation.selectors import reference_library
from gallery.media.imaging import ImageRejected
from gallery.team.models import Membership
from seedream import limits

router = Router(tags=["generations"])


class Unavailable(ApplicationError):
    status = 503


class Conflict(ApplicationError):
    status = 409


# -- schemas -------------------------------------------------------------------------------------


class ImageBrief(Schema):
    id: str
    review_state: str
    width: int
    height: int
    format: str
    sha256: str


class GenerationOut(Schema):
    id: str
    request_id: str
    index: int
    status: str
    prompt: str
    parameters: dict[str, Any]
    author: str | None
    error: str
    created_at: datetime
    updated_at: datetime
    image: ImageBrief | None


class GenerationPage(Schema):
    items: list[GenerationOut]
    next_cursor: str | None


class RequestOut(Schema):
    id: str
    prompt: str
    model: str
    parameters: dict[str, Any]
    batch_size: int
    reference_ids: list[str]
    generations: list[GenerationOut]


class GenerationCreateIn(Schema):
    prompt: str = Field(..., min_length=1, max_length=4000)
    parameters: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(1, ge=limits.BATCH_MIN, le=limits.BATCH_MAX)
    reference_ids: list[str] = Field(default_factory=list, max_length=limits.MAX_REFERENCES)
    reference_urls: list[str] = Field(default_factory=list, max_length=limits.MAX_REFERENCES)


class GenerationUploadIn(Schema):
    prompt: str = Field(..., min_length=1, max_length=4000)
    parameters: str = Field("{}", description="The parameters as a JSON object.")
    batch_size: int = Field(1, ge=limits.BATCH_MIN, le=limits.BATCH_MAX)
    reference_ids: list[str] = Field(default_factory=list, max_length=limits.MAX_REFERENCES)
    reference_urls: list[str] = Field(default_factory=list, max_length=limits.MAX_REFERENCES)


class GenerationFilters(Schema):
    author: str = ""
    status: str = Field("", description="in_flight, succeeded, failed or cancelled")
    size: str = ""
    review: str = Field("", description="pending, approved or rejected")
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    q: str = Field("", max_length=200)
    cursor: str = ""
    limit: int = Field(50, ge=1, le=100)

    def gallery_filters(self, **overrides: Any) -> GalleryFilters:
        values = self.model_dump(exclude={"cursor", "limit"})
        values = {
            k: (v.replace("\x00", "") if isinstance(v, str) else v) for k, v in values.items()
        }
        return GalleryFilters(**{**values, **overrides})

    def decoded_cursor(self) -> Cursor | None:
        if not self.cursor:
            return None
        cursor = Cursor.decode(self.cursor)
        if cursor is None:
            raise ApplicationError("Not a cursor this API gave out.", field="cursor")
        return cursor


class ReferenceOut(Schema):
    id: str
    name: str
    sha256: str
    width: int
    height: int
    created_at: datetime


class ReferencePage(Schema):
    items: list[ReferenceOut]
    page: int
    has_next: bool


class ReferenceUploadOut(Schema):
    items: list[ReferenceOut]


# -- conversions ---------------------------------------------------------------------------------


def image_brief(generation: Generation) -> ImageBrief | None:
    image = getattr(generation, "image", None)  # a reverse one-to-one: None when absent
    if image is None:
        return None
    return ImageBrief(
        id=str(image.public_id),
        review_state=image.review_state,
        width=image.width,
        height=image.height,
        format=image.format,
        sha256=image.sha256,
    )


def generation_out(generation: Generation) -> GenerationOut:
    request = generation.request
    return GenerationOut(
        id=str(generation.public_id),
        request_id=str(request.public_id),
        index=generation.index,
        status=generation.status,
        prompt=request.prompt,
        parameters=dict(request.parameters),
        author=request.author.username if request.author else None,
        error=generation.last_error,
        created_at=generation.created_at,
        updated_at=generation.updated_at,
        image=image_brief(generation),
    )


def request_out(made: GenerationRequest) -> RequestOut:
    return RequestOut(
        id=str(made.public_id),
        prompt=made.prompt,
        model=made.model,
        parameters=dict(made.parameters),
        batch_size=made.batch_size,
        reference_ids=[str(ref.public_id) for ref in made.ordered_references()],
        generations=[
            generation_out(g)
            for g in made.generations.select_related("request__author").order_by("index")
        ],
    )


def reference_out(reference: Reference) -> ReferenceOut:
    return ReferenceOut(
        id=str(reference.public_id),
        name=str(reference),
        sha256=reference.sha256,
        width=reference.width,
        height=reference.height,
        created_at=reference.created_at,
    )


# -- creating ------------------------------------------------------------------------------------


def _references(
    membership: Membership,
    *,
    ids: list[str],
    urls: list[str],
    files: list[UploadedFile[Any]],
) -> list[Reference]:
    """The request's references in order: library ids (another team's is a 404), then URLs
    (fetched under the download rules), then uploaded files; each stored as the page stores
    them. Counted before anything is fetched or decoded."""
    count = len(ids) + len(urls) + len(files)
    if count > limits.MAX_REFERENCES:
        raise GenerationInputError(
            {REFERENCES_FIELD: [f"Seedream takes at most {limits.MAX_REFERENCES} references."]}
        )
    chosen = [access_reference(membership, value) for value in ids]
    problems: list[str] = []
    for url in urls:
        try:
            chosen.append(reference_from_url(team=membership.team, user=membership.user, url=url))
        except ImageRejected as exc:
            problems.append(exc.message)
    for upload in files:
        name = upload.name or "file"
        if upload.size is not None and upload.size > settings.UPLOAD_MAX_BYTES:
            problems.append(f"{name}: larger than {settings.UPLOAD_MAX_BYTES // 2**20} MB.")
            continue
        try:
            chosen.append(
                reference_upload(
                    team=membership.team,
                    user=membership.user,
                    upload=cast(BinaryIO, upload),
                    name=name,
                )
            )
        except ImageRejected as exc:
            problems.append(f"{name}: {exc.message}")
    if problems:
        raise GenerationInputError({REFERENCES_FIELD: problems})
    return chosen


def _create(
    membership: Membership,
    *,
    prompt: str,
    parameters: dict[str, Any],
    batch_size: int,
    references: list[Reference],
) -> tuple[int, Any]:
    read = oxen.schema_read(
        model=settings.OXEN_MODEL, timeout=oxen.FORM_SCHEMA_TIMEOUT, store=False
    )
    if read.schema is None:
        reason = read.error.user_message if read.error else "Oxen cannot be reached."
        raise Unavailable(reason)
    try:
        made = request_create(
            team=membership.team,
            author=membership.user,
            prompt=prompt.replace("\x00", ""),
            parameters=parameters,
            references=references,
            batch_size=batch_size,
            schema=read.schema,
            model=settings.OXEN_MODEL,
        )
    except GenerationInputError as exc:
        # The same refusal, each field named by its path in the API's body.
        raise GenerationInputError(
            {_field_path(name): messages for name, messages in exc.by_field.items()}
        ) from None
    return 201, request_out(made).model_dump(mode="json")


BODY_FIELDS = frozenset({"prompt", "batch_size", REFERENCES_FIELD, "__all__"})


def _field_path(name: str) -> str:
    return name if name in BODY_FIELDS else f"parameters.{name}"


@router.post(
    "/generations",
    response={201: RequestOut, 503: Problem, **ERRORS},
    summary="Generate images (JSON body)",
)
def generation_create(request: HttpRequest, data: GenerationCreateIn) -> HttpResponse:
    """Prompt and parameters (checked against the model's live schema); references by library
    id or https URL, in that order (``@Image1`` is the first). Send ``Idempotency-Key``."""
    membership = require_scope(request, Scope.GENERATE)

    def make() -> tuple[int, Any]:
        refs = _references(membership, ids=data.reference_ids, urls=data.reference_urls, files=[])
        return _create(
            membership,
            prompt=data.prompt,
            parameters=data.parameters,
            batch_size=data.batch_size,
            references=refs,
        )

    return idempotent(
        request, owner=caller_of(request).owner, operation="generations.create", make=make
    )


@router.post(
    "/generations/upload",
    response={201: RequestOut, 503: Problem, **ERRORS},
    summary="Generate images (multipart, with reference files)",
)
def generation_create_upload(
    request: HttpRequest,
    data: Form[GenerationUploadIn],
    files: File[list[NinjaUploadedFile]] = None,  # type: ignore[assignment]
) -> HttpResponse:
    """As ``POST /generations``, as a multipart form: ``parameters`` is a JSON object in a
    field, and ``files`` are reference images, after any ``reference_ids`` and
    ``reference_urls``."""
    membership = require_scope(request, Scope.GENERATE)
    try:
        parameters = json.loads(data.parameters or "{}")
    except ValueError:
        parameters = None
    if not isinstance(parameters, dict):
        raise ApplicationError("Send the parameters as a JSON object.", field="parameters")

    def make() -> tuple[int, Any]:
        refs = _references(
            membership,
            ids=data.reference_ids,
            urls=data.reference_urls,
            files=list(files or []),
        )
        return _create(
            membership,
            prompt=data.prompt,
            parameters=parameters,
            batch_size=data.batch_size,
            references=refs,
        )

    return idempotent(
        request, owner=caller_of(request).owner, operation="generations.create", make=make
    )


# -- reading and acting --------------------------------------------------------------------------


@router.get("/generations", response={200: GenerationPage, **ERRORS})
def generation_list(request: HttpRequest, filters: Query[GenerationFilters]) -> GenerationPage:
    """The gallery's generations, newest first, with the gallery's filters; follow
    ``next_cursor`` for the next page."""
    membership = require_scope(request, Scope.READ)
    page = gallery_page(
        membership,
        filters=filters.gallery_filters(),
        cursor=filters.decoded_cursor(),
        size=filters.limit,
    )
    return GenerationPage(
        items=[generation_out(g) for g in page.items], next_cursor=page.next_cursor
    )


@router.get("/generations/{generation_id}", response={200: GenerationOut, **ERRORS})
def generation_get(request: HttpRequest, generation_id: str) -> GenerationOut:
    membership = require_scope(request, Scope.READ)
    return generation_out(access_gallery_item(membership, generation_id))


@router.post(
    "/generations/{generation_id}/cancel",
    response={200: GenerationOut, **ERRORS},
    summary="Cancel a generation",
)
def generation_cancel_view(request: HttpRequest, generation_id: str) -> GenerationOut:
    """Cancel a generation in flight; 409 when it has already finished."""
    membership = require_scope(request, Scope.GENERATE)
    generation = access_gallery_item(membership, generation_id)
    if not generation_cancel(generation_id=generation.pk):
        raise Conflict("It could not be cancelled: it may have just finished.")
    return generation_out(access_generation(membership, generation.public_id))


@router.post(
    "/generations/{generation_id}/retry",
    response={201: GenerationOut, **ERRORS},
    summary="Retry a failed or cancelled generation",
)
def generation_retry_view(request: HttpRequest, generation_id: str) -> HttpResponse:
    """Retry a failed or cancelled generation (a billed result is downloaded again, never
    generated twice); 409 for any other. Send ``Idempotency-Key``."""
    membership = require_scope(request, Scope.GENERATE)
    generation = access_gallery_item(membership, generation_id)

    def make() -> tuple[int, Any]:
        new = generation_retry(generation_id=generation.pk, by=membership.user)
        fresh = access_generation(membership, new.public_id)
        return 201, generation_out(fresh).model_dump(mode="json")

    return idempotent(
        request, owner=caller_of(request).owner, operation="generations.retry", make=make
    )


# -- references ----------------------------------------------------------------------------------

references_router = Router(tags=["references"])


class LibraryQuery(Schema):
    q: str = Field("", max_length=100)
    page: int = Field(1, ge=1, le=1000)


@references_router.get("/references", response={200: ReferencePage, **ERRORS})
def reference_list(request: HttpRequest, query: Query[LibraryQuery]) -> ReferencePage:
    """The team's reference library, newest first, searched by file name."""
    membership = require_scope(request, Scope.READ)
    library = reference_library(membership, query=query.q, page=query.page)
    return ReferencePage(
        items=[reference_out(r) for r in library.references],
        page=library.page,
        has_next=library.has_next,
    )


@references_router.post("/references", response={201: ReferenceUploadOut, **ERRORS})
def reference_create(request: HttpRequest, files: File[list[NinjaUploadedFile]]) -> HttpResponse:
    """Upload reference images (verified, re-encoded without metadata, one row per content
    within the team). Send ``Idempotency-Key``."""
    membership = require_scope(request, Scope.GENERATE)

    def make() -> tuple[int, Any]:
        stored = _references(membership, ids=[], urls=[], files=list(files))
        unique = list(dict.fromkeys(stored))
        return 201, ReferenceUploadOut(items=[reference_out(r) for r in unique]).model_dump(
            mode="json"
        )

    return idempotent(
        request, owner=caller_of(request).owner, operation="references.create", make=make
    )
