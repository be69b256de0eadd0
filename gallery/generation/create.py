"""Creating a request: validated against the model's live schema, one generation row per
image, submit tasks queued after commit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from gallery import oxen, tasks
from gallery.accounts.models import User
from gallery.budget.services import budget_check, budget_reserve
from gallery.errors import ApplicationError
from gallery.generation.lifecycle import Status, stale_after
from gallery.generation.models import (
    Generation,
    GenerationRequest,
    Reference,
    RequestReference,
    directory_for,
)
from gallery.generation.references import reference_check
from gallery.media.imaging import ImageRejected
from gallery.team.models import Membership, Team
from seedream import limits
from seedream.schema import RequestSchema

# The schema's reference fields (today's and the legacy era's) are one thing on the form.
REFERENCE_SCHEMA_FIELDS = frozenset({"input_image", "input_images"})
REFERENCES_FIELD = "references"


class GenerationInputError(ApplicationError):
    """The request cannot be made as entered; ``by_field`` says what is wrong with each field
    (``references`` for the reference images, ``__all__`` for the request as a whole)."""

    def __init__(self, by_field: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in by_field.items()))
        self.by_field = by_field


def generation_request_create(
    *,
    team: Team,
    author: User,
    prompt: str,
    parameters: dict[str, Any],
    references: Sequence[Reference],
    batch_size: int,
    schema: RequestSchema,
    model: str,
    remix_of: GenerationRequest | None = None,
) -> GenerationRequest:
    """Validate against the live schema, then create the request and one generation per image
    in one transaction; submit tasks are queued only after it commits."""
    if not limits.BATCH_MIN <= batch_size <= limits.BATCH_MAX:
        choose = f"Choose between {limits.BATCH_MIN} and {limits.BATCH_MAX} images."
        raise GenerationInputError({"batch_size": [choose]})
    if any(ref.team_id != team.pk for ref in references):
        raise GenerationInputError({REFERENCES_FIELD: ["A reference belongs to another team."]})
    # Oxen takes each image once: the same one twice would shift every later @ImageN.
    deduplicated = references_deduplicated(prompt=prompt, references=references)
    prompt, references = deduplicated.prompt, deduplicated.references
    refused = _references_seedream_refuses(references)
    if refused:
        raise GenerationInputError({REFERENCES_FIELD: refused})
    draft = request_body_draft(
        model=model,
        prompt=prompt,
        parameters=parameters,
        reference_values=[f"https://references.invalid/{i}" for i in range(len(references))],
    )
    shaped = schema.shape(draft)
    problems = [*shaped.problems, *schema.validate(shaped.body)]
    if problems:
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            name = REFERENCES_FIELD if problem.field in REFERENCE_SCHEMA_FIELDS else problem.field
            by_field.setdefault(name or "__all__", []).append(problem.message)
        raise GenerationInputError(by_field)

    # Over a limit already: refused on a plain read, without queueing for the lock.
    budget_check(
        team=team,
        member=author,
        images=batch_size,
        cost_per_image=schema.price_for(parameters),
        locked=False,
    )
    try:
        return _request_create(
            team=team,
            author=author,
            model=model,
            prompt=prompt,
            parameters=parameters,
            references=references,
            batch_size=batch_size,
            schema=schema,
            remix_of=remix_of,
        )
    except OperationalError as exc:
        # SQLite's write lock not had within its busy timeout: nothing was created or sent.
        if connection.vendor != "sqlite" or "locked" not in str(exc):
            raise
        raise GenerationBusy(
            "The server is too busy to take this request just now: nothing was created or "
            "sent. Try again in a moment."
        ) from exc


class GenerationBusy(ApplicationError):
    """The database could not take the request in time (SQLite under a crowd)."""


def _request_create(
    *,
    team: Team,
    author: User | None,
    model: str,
    prompt: str,
    parameters: dict[str, Any],
    references: Sequence[Reference],
    batch_size: int,
    schema: RequestSchema,
    remix_of: GenerationRequest | None,
) -> GenerationRequest:
    now = timezone.now()
    deadline = now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES)
    with transaction.atomic():
        # First, with the team's budget row locked until commit: refused (BudgetExceeded)
        # before anything is created, or held for approval, or reserved with the rows below.
        decision = budget_check(
            team=team,
            member=author,
            images=batch_size,
            cost_per_image=schema.price_for(parameters),
        )
        request = GenerationRequest.objects.create(
            team=team,
            author=author,
            model=model,
            prompt=prompt,
            parameters=parameters,
            batch_size=batch_size,
            request_schema=schema.raw,
            remix_of=remix_of,
        )
        RequestReference.objects.bulk_create(
            RequestReference(request=request, reference=ref, position=position)
            for position, ref in enumerate(references, start=1)
        )
        rows = [
            Generation(
                public_id=public_id,
                request=request,
                team=team,
                index=index,
                target_directory=directory_for(team.public_id, public_id),
                deadline_at=deadline,
                next_check_at=now + stale_after(),
                transitions=[[Status.PENDING, now.isoformat()]],
            )
            for index, public_id in enumerate(uuid.uuid4() for _ in range(batch_size))
        ]
        if decision.needs_approval:
            for row in rows:
                row.transition_to(Status.AWAITING_APPROVAL, now=now)
                row.last_error = decision.approval_reason
        generations = Generation.objects.bulk_create(rows)
        if decision.needs_approval:
            return request
        budget_reserve(decision=decision, generations=generations)
        ids = [g.pk for g in generations]
        transaction.on_commit(lambda: [tasks.generation_submit.delay(pk) for pk in ids])
    return request


def _references_seedream_refuses(references: Sequence[Reference]) -> list[str]:
    """A message per reference Seedream would refuse (one stored before a limit changed, or
    reused from the library), naming it as the prompt does."""
    messages = []
    for position, ref in enumerate(references, start=1):
        try:
            reference_check(width=ref.width, height=ref.height, size=ref.bytes)
        except ImageRejected as exc:
            messages.append(f"@Image{position} ({ref}): {exc.message}")
    return messages


@dataclass(frozen=True)
class Deduplicated:
    """References with each image once, the prompt's @ImageN renumbered to match, and one
    note per dropped duplicate: (its position as given, the position it is sent at)."""

    prompt: str
    references: list[Reference]
    dropped: list[tuple[int, int]]


_IMAGE_TAG = re.compile(r"@Image(\d+)\b")


def references_deduplicated(*, prompt: str, references: Sequence[Reference]) -> Deduplicated:
    """Each reference once, in first-seen order, with ``@ImageN`` in the prompt renumbered so
    every tag still names the same picture (a duplicate's tag names its first occurrence)."""
    kept: list[Reference] = []
    position_of: dict[int, int] = {}  # reference pk -> 1-based position sent
    renumber: dict[int, int] = {}  # position as given -> position sent
    dropped: list[tuple[int, int]] = []
    for given, ref in enumerate(references, start=1):
        if ref.pk in position_of:
            dropped.append((given, position_of[ref.pk]))
        else:
            kept.append(ref)
            position_of[ref.pk] = len(kept)
        renumber[given] = position_of[ref.pk]
    if not dropped:
        return Deduplicated(prompt, list(references), [])

    def tag(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return f"@Image{renumber.get(number, number)}"

    return Deduplicated(_IMAGE_TAG.sub(tag, prompt), kept, dropped)


def request_body_draft(
    *, model: str, prompt: str, parameters: dict[str, Any], reference_values: Sequence[str]
) -> dict[str, Any]:
    """The request in today's names; the schema shapes it to whatever era the model declares."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, **parameters}
    if reference_values:
        body["input_image"] = list(reference_values)
    return body


def generation_request_rerun(
    *, membership: Membership, original: GenerationRequest
) -> GenerationRequest:
    """The same prompt, parameters, references and batch size, sent again as a new request
    (validated against today's schema, so a field Oxen has since renamed is caught here)."""
    return generation_request_create(
        team=membership.team,
        author=membership.user,
        prompt=original.prompt,
        parameters=dict(original.parameters),
        references=original.ordered_references(),
        batch_size=original.batch_size,
        schema=oxen.get_schema(model=original.model, timeout=oxen.FORM_SCHEMA_TIMEOUT),
        model=original.model,
        remix_of=original,
    )
