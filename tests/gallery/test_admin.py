"""The Django admin for reviewers: lists at a fixed query count, filters, search, bulk review
through the services, read-only pipeline fields and the review history inline."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gallery.accounts.models import User
from gallery.generation.models import GalleryImage, Reconciliation
from gallery.review import services as review_services
from gallery.review.models import ReviewDecision
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_image

pytestmark = pytest.mark.django_db
State = GalleryImage.ReviewState
IMAGES = reverse("admin:gallery_galleryimage_changelist")
GENERATIONS = reverse("admin:gallery_generation_changelist")


@pytest.fixture
def superuser(make_user: Callable[..., User]) -> User:
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def _queries(client: Client, url: str, **params: Any) -> int:
    from django.db import connection

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_changelists_stay_at_a_fixed_number_of_queries(
    admin_client: Client, team: Team, make_user: Callable[..., User], media_storage: Path
) -> None:
    authors = [make_user(f"author{i}") for i in range(3)]
    for i in range(5):
        make_image(team, authors[i % 3], size=["1K", "2K"][i % 2])
    few_images = _queries(admin_client, IMAGES)
    few_generations = _queries(admin_client, GENERATIONS)
    for i in range(25):
        make_image(team, authors[i % 3], size=["2K", "4K"][i % 2], model=f"m{i % 2}")
    assert _queries(admin_client, IMAGES) == few_images
    assert _queries(admin_client, GENERATIONS) == few_generations
    html = admin_client.get(IMAGES).content.decode()
    newest = GalleryImage.objects.order_by("-created_at", "-id")[0]
    assert reverse("review-media", args=[newest.public_id, "thumb"]) in html


def test_filters_and_prompt_search(
    admin_client: Client, team: Team, member: User, media_storage: Path
) -> None:
    cat = make_image(team, member, prompt="a cat on a sofa", size="4K", model="seedream-x")
    dog = make_image(team, member, prompt="a dog in the rain", state=State.APPROVED)

    def listed(**params: str) -> set[str]:
        response = admin_client.get(IMAGES, params)
        assert response.status_code == 200
        return {str(obj.public_id) for obj in response.context["cl"].result_list}

    assert listed(q="sofa") == {str(cat.public_id)}
    assert listed(review_state__exact="approved") == {str(dog.public_id)}
    assert listed(size="4K") == {str(cat.public_id)}
    assert listed(generation__request__model="seedream-x") == {str(cat.public_id)}
    assert listed(generation__request__author__id__exact=str(member.pk)) == {
        str(cat.public_id),
        str(dog.public_id),
    }
    assert listed(team__id__exact=str(team.pk)) == {str(cat.public_id), str(dog.public_id)}
    assert listed(**{"created_at__year": str(cat.created_at.year)})


def test_bulk_actions_go_through_the_review_service(
    admin_client: Client, superuser: User, team: Team, member: User, media_storage: Path
) -> None:
    images = [make_image(team, member) for _ in range(3)]
    response = admin_client.post(
        IMAGES,
        {
            "action": "approve_selected",
            "_selected_action": [str(image.pk) for image in images[:2]],
        },
    )
    assert response.status_code == 302
    states = dict(GalleryImage.objects.values_list("pk", "review_state"))
    assert [states[image.pk] for image in images] == ["approved", "approved", "pending"]
    assert ReviewDecision.objects.filter(actor=superuser, to_state="approved").count() == 2

    admin_client.post(
        IMAGES, {"action": "reject_selected", "_selected_action": [str(images[0].pk)]}
    )
    decision = ReviewDecision.objects.filter(image=images[0]).first()
    assert decision is not None and (decision.from_state, decision.to_state) == (
        "approved",
        "rejected",
    )


def test_change_form_is_read_only_except_a_logged_decision(
    admin_client: Client, superuser: User, team: Team, member: User, media_storage: Path
) -> None:
    image = make_image(team, member, prompt="a red barn")
    review_services.image_flag(
        image=image, membership=Membership.objects.get(user=member), reason="too dark"
    )
    url = reverse("admin:gallery_galleryimage_change", args=[image.pk])
    page = admin_client.get(url)
    html = page.content.decode()
    assert "a red barn" in html and "too dark" in html  # request metadata and history inline
    assert image.generation.upstream_id in html
    assert 'name="review_state"' not in html and 'name="decision"' in html

    # Post back what the form holds (the inline's management form and ids), plus a decision.
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    data.update(decision="approved", decision_note="fine after all", review_state="rejected")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    image.refresh_from_db()
    assert image.review_state == State.APPROVED
    assert image.review_decisions.first().note == "fine after all"  # type: ignore[union-attr]
    generation_page = admin_client.get(
        reverse("admin:gallery_generation_change", args=[image.generation_id])
    )
    assert generation_page.status_code == 200
    assert image.generation.upstream_id in generation_page.content.decode()
    assert 'name="upstream_id"' not in generation_page.content.decode()


def test_staff_see_only_their_teams_in_the_admin(
    team: Team, member: User, make_user: Callable[..., User], media_storage: Path
) -> None:
    staff = make_user("staffer", is_staff=True)
    membership_add(team=team, user=staff, role=Membership.Role.MEMBER)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_galleryimage", "change_galleryimage"])
    )
    mine = make_image(team, member)
    elsewhere = team_create(name="Elsewhere", owner=make_user("stranger"))
    theirs = make_image(elsewhere, None)
    client = Client()
    client.force_login(staff)
    listed = {obj.pk for obj in client.get(IMAGES).context["cl"].result_list}
    assert listed == {mine.pk}
    change = reverse("admin:gallery_galleryimage_change", args=[theirs.pk])
    assert client.get(change).status_code == 302  # the admin's "does not exist" redirect
    assert client.get(reverse("review-media", args=[theirs.public_id, "thumb"])).status_code == 404
    thumb = client.get(reverse("review-media", args=[mine.public_id, "thumb"]))
    assert thumb.status_code == 200 and thumb["X-Content-Type-Options"] == "nosniff"


def test_other_models_are_registered(admin_client: Client, team: Team) -> None:
    for name in ["team", "membership", "user", "reference", "sharelink", "reviewdecision"]:
        assert admin_client.get(reverse(f"admin:gallery_{name}_changelist")).status_code == 200


def test_staff_of_one_team_see_nothing_of_another_anywhere_in_the_admin(
    team: Team, member: User, make_user: Callable[..., User], media_storage: Path
) -> None:
    """Issue 13, item 5: every changelist (its "By team" filters included), and the Team,
    Membership and User admins, show a non-superuser staff user only their own teams."""
    from django.contrib import admin as django_admin

    staff = make_user("staffer", is_staff=True)
    membership_add(team=team, user=staff, role=Membership.Role.MEMBER)
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["gallery", "axes"])
    )
    make_image(team, member)
    elsewhere = team_create(name="Zanzibar Secret Team", owner=make_user("zanzibar_owner"))
    stranger = make_user("zanzibar_member")
    membership_add(team=elsewhere, user=stranger, role=Membership.Role.MEMBER)
    make_image(elsewhere, stranger, size="8K-secret")
    client = Client()
    client.force_login(staff)
    pages = 0
    for model in django_admin.site._registry:
        if model._meta.app_label != "gallery":
            continue
        url = reverse(f"admin:gallery_{model._meta.model_name}_changelist")
        html = client.get(url).content.decode()
        pages += 1
        for secret in ("Zanzibar Secret Team", "zanzibar_owner", "zanzibar_member", "8K-secret"):
            assert secret not in html, f"{url} shows {secret!r}"
    assert pages >= 8
    # Rows of the other team are not there to open either.
    for name, pk in [("team", elsewhere.pk), ("user", stranger.pk)]:
        assert client.get(reverse(f"admin:gallery_{name}_change", args=[pk])).status_code == 302
    # A staff user cannot make anyone (themselves included) a superuser or staff.
    own = client.get(reverse("admin:gallery_user_change", args=[staff.pk])).content.decode()
    assert 'name="is_superuser"' not in own and 'name="is_staff"' not in own
    # Nor move a membership of their team into another one.
    mine = Membership.objects.get(user=member)
    change = reverse("admin:gallery_membership_change", args=[mine.pk])
    client.post(change, {"team": elsewhere.pk, "user": member.pk, "role": "owner"})
    mine.refresh_from_db()
    assert mine.team_id == team.pk


def test_the_reconciliation_history_is_shown_only_to_staff_of_the_generations_team(
    team: Team, member: User, make_user: Callable[..., User], media_storage: Path
) -> None:
    """Issues 9 and 13 together: the ledger's history (inline on a generation) follows the
    generation's team scope; there is no admin of its own that could list every team's."""
    from django.contrib import admin as django_admin

    staff = make_user("staffer", is_staff=True)
    membership_add(team=team, user=staff, role=Membership.Role.MEMBER)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="gallery"))
    mine = make_image(team, member).generation
    elsewhere = team_create(name="Elsewhere", owner=make_user("stranger"))
    theirs = make_image(elsewhere, None).generation
    for generation, detail in [(mine, "Oxen charged 0.04 here"), (theirs, "Zanzibar 9.99")]:
        Reconciliation.objects.create(generation=generation, action="cost", detail=detail)
    assert Reconciliation not in django_admin.site._registry
    client = Client()
    client.force_login(staff)
    own = client.get(reverse("admin:gallery_generation_change", args=[mine.pk]))
    assert "Reconciled with Oxen" in own.content.decode()
    assert "Oxen charged 0.04 here" in own.content.decode()
    other = client.get(reverse("admin:gallery_generation_change", args=[theirs.pk]))
    assert other.status_code == 302 and "Zanzibar" not in other.content.decode()
    listed = client.get(GENERATIONS).content.decode()
    assert "Zanzibar" not in listed and str(theirs.public_id) not in listed
