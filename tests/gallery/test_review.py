"""Review: decisions and flags with their history, the staff queue, and who may see and do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.review import selectors as review_selectors
from gallery.review import services as review_services
from gallery.review.models import ReviewDecision
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_image

pytestmark = pytest.mark.django_db
State = GalleryImage.ReviewState


@pytest.fixture
def reviewer(team: Team, make_user: Callable[..., User]) -> User:
    user = make_user("reviewer", is_staff=True, first_name="Rita", last_name="Reviewer")
    membership_add(team=team, user=user, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def reviewer_client(reviewer: User) -> Client:
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def other_team(make_user: Callable[..., User]) -> Team:
    return team_create(name="Elsewhere", owner=make_user("stranger"))


def test_review_changes_state_and_records_who_when_from_to_and_note(
    team: Team, member: User, reviewer: User, media_storage: Path
) -> None:
    image = make_image(team, member)
    decision = review_services.image_review(
        image=image, reviewer=reviewer, to_state=State.APPROVED, note="  lovely  "
    )
    assert decision is not None
    image.refresh_from_db()
    assert image.review_state == State.APPROVED
    row = ReviewDecision.objects.get()
    assert (row.actor, row.from_state, row.to_state, row.note, row.kind) == (
        reviewer,
        State.PENDING,
        State.APPROVED,
        "lovely",
        ReviewDecision.Kind.REVIEW,
    )
    assert timezone.now() - row.created_at < timedelta(seconds=5)


def test_repeating_a_decision_without_a_note_records_nothing(
    team: Team, member: User, reviewer: User, media_storage: Path
) -> None:
    image = make_image(team, member, state=State.APPROVED)
    assert (
        review_services.image_review(image=image, reviewer=reviewer, to_state=State.APPROVED)
        is None
    )
    assert not ReviewDecision.objects.exists()


def test_only_staff_in_the_images_team_can_review(
    team: Team,
    member: User,
    other_team: Team,
    make_user: Callable[..., User],
    media_storage: Path,
) -> None:
    image = make_image(team, member)
    outsider = make_user("outsider", is_staff=True)
    membership_add(team=other_team, user=outsider)
    for user in (member, outsider):
        with pytest.raises(review_services.ReviewError):
            review_services.image_review(image=image, reviewer=user, to_state=State.APPROVED)
    boss = make_user("boss", is_staff=True, is_superuser=True)
    review_services.image_review(image=image, reviewer=boss, to_state=State.REJECTED)
    assert GalleryImage.objects.get(pk=image.pk).review_state == State.REJECTED


def test_flag_puts_the_image_back_in_front_of_reviewers_with_the_reason(
    team: Team, member: User, reviewer: User, member_client: Client, media_storage: Path
) -> None:
    image = make_image(team, member, state=State.APPROVED)
    url = reverse("image-flag", args=[image.public_id])
    response = member_client.post(url, {"reason": "  hands have six fingers ", "next": "/x/"})
    assert response.status_code == 302 and response["Location"] == "/x/"
    image.refresh_from_db()
    assert image.review_state == State.PENDING
    flag = ReviewDecision.objects.get()
    assert (flag.kind, flag.from_state, flag.to_state, flag.note, flag.actor) == (
        "flag",
        State.APPROVED,
        State.PENDING,
        "hands have six fingers",
        member,
    )
    assert list(review_selectors.review_queue(reviewer)) == [image]
    assert review_selectors.latest_flag(image) == flag


def test_flag_needs_a_reason_and_htmx_gets_the_history_back(
    team: Team, member: User, member_client: Client, media_storage: Path
) -> None:
    image = make_image(team, member, state=State.APPROVED)
    url = reverse("image-flag", args=[image.public_id])
    response = member_client.post(url, {"reason": "   "}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert b"Say what is wrong" in response.content
    assert GalleryImage.objects.get(pk=image.pk).review_state == State.APPROVED
    response = member_client.post(url, {"reason": "off-brand"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"off-brand" in response.content and b"flagged it" in response.content


def test_flag_on_another_teams_image_is_404_and_get_is_refused(
    team: Team,
    member: User,
    member_client: Client,
    other_team: Team,
    media_storage: Path,
) -> None:
    theirs = make_image(other_team, other_team.members.first())
    response = member_client.post(reverse("image-flag", args=[theirs.public_id]), {"reason": "x"})
    assert response.status_code == 404
    mine = make_image(team, member)
    assert member_client.get(reverse("image-flag", args=[mine.public_id])).status_code == 405
    assert not ReviewDecision.objects.exists()


def test_queue_is_staff_only_and_spans_the_reviewers_teams(
    team: Team,
    member: User,
    reviewer: User,
    reviewer_client: Client,
    member_client: Client,
    other_team: Team,
    make_user: Callable[..., User],
    media_storage: Path,
) -> None:
    assert member_client.get(reverse("review-queue")).status_code == 404
    now = timezone.now()
    older = make_image(team, member, created_at=now - timedelta(hours=2))
    newer = make_image(team, member, created_at=now - timedelta(hours=1))
    make_image(team, member, state=State.APPROVED)
    theirs = make_image(other_team, None)

    response = reviewer_client.get(reverse("review-queue"))
    assert response.status_code == 302
    assert response["Location"] == reverse("review-image", args=[older.public_id])
    assert list(review_selectors.review_queue(reviewer)) == [older, newer]
    theirs_url = reverse("review-image", args=[theirs.public_id])
    assert reviewer_client.get(theirs_url).status_code == 404
    media = reverse("review-media", args=[theirs.public_id, "thumb"])
    assert reviewer_client.get(media).status_code == 404

    superuser = make_user("root", is_staff=True, is_superuser=True)
    assert set(review_selectors.review_queue(superuser)) == {older, newer, theirs}


def test_queue_page_shows_prompt_count_and_neighbours(
    team: Team,
    member: User,
    reviewer_client: Client,
    media_storage: Path,
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    now = timezone.now()
    images = [
        make_image(
            team, member, prompt=f"prompt number {i}", created_at=now - timedelta(hours=5 - i)
        )
        for i in range(3)
    ]
    with django_assert_max_num_queries(16):
        response = reviewer_client.get(reverse("review-image", args=[images[1].public_id]))
    html = response.content.decode()
    assert "prompt number 1" in html
    assert 'data-remaining="3"' in html
    assert reverse("review-image", args=[images[0].public_id]) in html  # K: previous
    assert reverse("review-image", args=[images[2].public_id]) in html  # J: next
    assert 'id="review-approve"' in html and 'id="review-note"' in html
    assert "js/review.js" in html


def test_deciding_from_the_queue_moves_to_the_next_pending_image(
    team: Team, member: User, reviewer: User, reviewer_client: Client, media_storage: Path
) -> None:
    now = timezone.now()
    first = make_image(team, member, created_at=now - timedelta(hours=2))
    second = make_image(team, member, created_at=now - timedelta(hours=1))
    response = reviewer_client.post(
        reverse("review-decide", args=[first.public_id]),
        {"decision": "rejected", "note": "blurry"},
    )
    assert response["Location"] == reverse("review-image", args=[second.public_id])
    first.refresh_from_db()
    assert first.review_state == State.REJECTED
    assert first.review_decisions.get().note == "blurry"

    response = reviewer_client.post(
        reverse("review-decide", args=[second.public_id]), {"decision": "approved"}
    )
    assert response["Location"] == reverse("review-queue")
    empty = reviewer_client.get(reverse("review-queue"))
    assert b"Nothing left to review" in empty.content
    # The decided image still opens, with its history, and a GET changed nothing.
    page = reviewer_client.get(reverse("review-image", args=[first.public_id]))
    assert b"blurry" in page.content and b"Rita Reviewer" in page.content
    assert ReviewDecision.objects.count() == 2


def test_queue_get_changes_nothing_and_decide_needs_post(
    team: Team, member: User, reviewer_client: Client, media_storage: Path
) -> None:
    image = make_image(team, member)
    url = reverse("review-decide", args=[image.public_id])
    assert reviewer_client.get(url, {"decision": "approved"}).status_code == 405
    assert reviewer_client.post(url, {"decision": "bogus"}).status_code == 302
    assert GalleryImage.objects.get(pk=image.pk).review_state == State.PENDING
    assert not ReviewDecision.objects.exists()


def test_history_fragment_lists_every_decision_newest_first(
    team: Team, member: User, reviewer: User, media_storage: Path
) -> None:
    from django.template.loader import render_to_string

    image = make_image(team, member)
    review_services.image_review(image=image, reviewer=reviewer, to_state=State.APPROVED, note="ok")
    review_services.image_flag(
        image=image, membership=Membership.objects.get(user=member), reason="logo is wrong"
    )
    review_services.image_review(
        image=image, reviewer=reviewer, to_state=State.REJECTED, note="agreed"
    )
    html = render_to_string("review/_history.html", {"image": image})
    assert html.index("agreed") < html.index("logo is wrong") < html.index("ok")
    assert html.count('class="decision ') == 3
    assert "Rejected" in html


def test_reviewer_sees_references_of_the_request(
    team: Team,
    member: User,
    reviewer_client: Client,
    make_reference: Callable[..., object],
    media_storage: Path,
) -> None:
    from gallery.generation.models import RequestReference

    image = make_image(team, member)
    reference = make_reference()
    RequestReference.objects.create(
        request=image.generation.request, reference=reference, position=1
    )
    page = reviewer_client.get(reverse("review-image", args=[image.public_id]))
    url = reverse("review-reference-media", args=[reference.public_id])  # type: ignore[attr-defined]
    assert url in page.content.decode()
    media = reviewer_client.get(url)
    assert media.status_code == 200 and media["Content-Type"] == reference.mime_type  # type: ignore[attr-defined]
    assert media["X-Content-Type-Options"] == "nosniff"


def test_team_setting_hides_pending_images_from_the_rest_of_the_team(
    team: Team, member: User, make_user: Callable[..., User], media_storage: Path
) -> None:
    colleague = make_user("colleague")
    membership_add(team=team, user=colleague, role=Membership.Role.MEMBER)
    image = make_image(team, member)
    client = Client()
    client.force_login(colleague)
    url = reverse("image-flag", args=[image.public_id])
    assert client.post(url, {"reason": "seen it"}).status_code == 302
    team.pending_visible_to_team = False
    team.save()
    assert client.post(url, {"reason": "again"}).status_code == 404
    author = Client()
    author.force_login(member)
    assert author.post(url, {"reason": "my own"}).status_code == 302
