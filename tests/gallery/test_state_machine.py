"""The generation state machine: one table of allowed moves, one method that makes them."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.create import generation_request_create
from gallery.generation.models import (
    ALLOWED_TRANSITIONS,
    IN_FLIGHT,
    RECOVERY_MOVES,
    TERMINAL,
    UPSTREAM_ACTIVE,
    Generation,
    GenerationStatus,
    IllegalTransition,
)
from gallery.generation.retry import generation_cancel
from gallery.generation.submit import generation_submit
from gallery.oxen import get_schema
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import drive

S = GenerationStatus
GALLERY = Path(__file__).resolve().parents[2] / "gallery"
PAIRS = [(old, new) for old in S for new in S]


def test_the_status_sets_are_derived_from_the_table() -> None:
    # Recovery moves (Retry download, the ledger adopting) are in the table, but the pipeline
    # never makes them by itself: a failed or cancelled row is terminal all the same.
    assert all(new in ALLOWED_TRANSITIONS[old] for old, new in RECOVERY_MOVES)
    # The budget's approval hold (issue 11) is a person's move too, both ways: a row waiting
    # for approval is left only by an owner's or admin's approval or decline.
    assert {old for old, _ in RECOVERY_MOVES} == {
        S.PENDING,
        S.FAILED,
        S.CANCELLED,
        S.AWAITING_APPROVAL,
    }
    assert {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.AWAITING_APPROVAL} == TERMINAL
    assert {S.QUEUED, S.PROCESSING} == UPSTREAM_ACTIVE
    assert {S.PENDING, S.SUBMITTING, S.QUEUED, S.PROCESSING, S.DOWNLOADING} == IN_FLIGHT
    assert set(ALLOWED_TRANSITIONS) == set(S)
    # The tracker's partial index must cover exactly the states the sweep looks at.
    index = next(i for i in Generation._meta.indexes if i.name == "generation_due_idx")
    assert index.condition is not None
    assert set(dict(index.condition.children)["status__in"]) == IN_FLIGHT


@pytest.mark.parametrize(("old", "new"), PAIRS)
def test_a_move_is_made_only_if_the_table_allows_it(old: str, new: str) -> None:
    generation = Generation(status=old, transitions=[[old, "earlier"]])
    when = timezone.now()
    if new in ALLOWED_TRANSITIONS[old]:
        generation.transition_to(new, now=when)
        assert generation.status == new
        assert generation.transitions[-1] == [new, when.isoformat()]
        assert (generation.finished_at == when) is (new in TERMINAL)
    else:
        with pytest.raises(IllegalTransition):
            generation.transition_to(new, now=when)
        assert generation.status == old
        assert generation.transitions == [[old, "earlier"]]


def _gallery_modules() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text()))
        for path in GALLERY.rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_nothing_but_transition_to_writes_a_generation_status() -> None:
    writers = []
    for path, tree in _gallery_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "transition_to":
                continue
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    writers.append(f"{path.name}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"update", "create", "get_or_create", "update_or_create"}
                and any(k.arg == "status" for k in node.keywords)
            ):
                writers.append(f"{path.name}:{node.lineno}")
    # transition_to itself is the one assignment, inside the model
    assert writers == ["models.py:" + str(_transition_to_assignment_line())]


def _transition_to_assignment_line() -> int:
    tree = ast.parse((GALLERY / "generation" / "models.py").read_text())
    method = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "transition_to"
    )
    return next(
        n.lineno
        for n in ast.walk(method)
        if isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Attribute) and t.attr == "status" for t in n.targets)
    )


def test_every_status_the_code_moves_to_has_a_way_in_and_nothing_else_does() -> None:
    """The code's ``transition_to(Status.X)`` targets are exactly the table's reachable states:
    no move the table lacks, no entry in the table that no code makes."""
    targets = set()
    for _path, tree in _gallery_modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "transition_to"
                and node.args
                and isinstance(node.args[0], ast.Attribute)
            ):
                targets.add(S[node.args[0].attr])
    reachable = {new for moves in ALLOWED_TRANSITIONS.values() for new in moves}
    assert targets == reachable


@pytest.mark.django_db
def test_the_moves_the_pipeline_records_are_all_in_the_table(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    """A success, a refused submit that is sent again, and a cancel: every recorded move is
    allowed (transition_to would have raised otherwise) and the histories end terminal."""
    oxen_sim.inject("POST /api/ai/queue", status=429, retry_after=0, times=1)

    def new(batch: int) -> list[int]:
        request = generation_request_create(
            team=team,
            author=member,
            prompt="a lighthouse at dusk",
            parameters={"size": "2K"},
            references=[],
            batch_size=batch,
            schema=get_schema(model=settings.OXEN_MODEL),
            model=settings.OXEN_MODEL,
        )
        return list(request.generations.values_list("pk", flat=True))

    cancelled = new(1)
    assert generation_cancel(generation_id=cancelled[0])
    finished = new(2)
    generation_submit(generation_id=finished[0])  # refused with a 429: back to pending
    drive(finished)  # submits both (the first one again), then follows them to the end

    histories: list[list[str]] = [
        [status for status, _ in g.transitions]
        for g in Generation.objects.filter(pk__in=cancelled + finished)
    ]
    moves = {(a, b) for history in histories for a, b in itertools.pairwise(history)}
    assert all(new in ALLOWED_TRANSITIONS[old] for old, new in moves)
    assert (S.SUBMITTING, S.PENDING) in moves  # the 429 sent it back, and it went again
    assert all(history[-1] in TERMINAL for history in histories)
