"""A populated site for tests that walk every page (the CSP check, the form fuzzer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from gallery.accounts.models import User
from gallery.api import webhooks
from gallery.api.models import WebhookDelivery, WebhookEndpoint
from gallery.api.tokens import api_token_create
from gallery.collection import services as collection_services
from gallery.generation.lifecycle import billed_failure_message
from gallery.generation.models import GalleryImage, Generation, Reference
from gallery.sharing import proofing
from gallery.sharing import services as sharing_services
from gallery.team import invitations
from gallery.team.models import Membership, Team
from gallery.team.services import membership_add, team_create
from tests.factories import make_image, make_item


@dataclass
class SiteData:
    owner: User  # owner of the team and a staff reviewer: every page and form is theirs
    team: Team
    images: list[GalleryImage]
    generations: list[Generation]
    reference: Reference
    share_token: str
    password_share_token: str
    revoked_share_token: str
    invitation_token: str

    def owner_client(self) -> Client:
        client = Client()
        client.force_login(self.owner)
        return client

    def start_urls(self) -> list[str]:
        image, other = self.images[0], self.images[1]
        return [
            "/",
            "/generate/",
            f"/generate/?remix={image.generation.request.public_id}&ref={self.reference.public_id}",
            "/team/",
            "/team/settings/",
            "/links/",
            "/account/api-tokens/",
            "/team/webhooks/",
            f"/links/new/?images={image.public_id}&images={other.public_id}",
            "/review/",
            f"/compare/?ids={image.generation.public_id}&ids={other.generation.public_id}",
            # The selection bar's Share without JavaScript (gallery items, not images).
            f"/links/new/?ids={image.generation.public_id}&ids={other.generation.public_id}",
            "/accounts/password/",
            f"/join/{self.invitation_token}/",
            # One tile on its own (the per-tile poll the live bench compares with), and the
            # styled 404 page (at an address of its own: /items/<id>/ is walked 3 times only).
            f"/items/{self.generations[1].public_id}/tile/",
            "/no-such-page/",
        ]

    def public_urls(self) -> list[str]:
        return [
            "/accounts/login/",
            f"/s/{self.share_token}/",
            f"/s/{self.password_share_token}/",
            f"/s/{self.revoked_share_token}/",  # the styled 410 page
            f"/join/{self.invitation_token}/",
            "/favicon.ico",
        ]


@pytest.fixture
def site_data(
    make_user: Callable[..., User],
    make_reference: Callable[..., Reference],
    team: Team,
    member: User,
    media_storage: Path,
    settings: Any,
) -> SiteData:
    owner = User.objects.get(username="owner")
    owner.is_staff = True
    owner.save()
    membership_add(team=team_create(name="Second team", owner=make_user("other")), user=owner)
    # Made (and billed) by Oxen, its download failed: a "Download failed" tile whose Retry
    # download fetches it again on the same row (issue 9). Older than the images, so the walk's
    # three item pages still include an image's.
    billed = make_item(
        team,
        member,
        status="failed",
        error=billed_failure_message("the result URL had expired."),
        upstream_id="sim-billed-download-failed",
    )
    Generation.objects.filter(pk=billed.pk).update(upstream_status="succeeded")
    billed.refresh_from_db()
    images = [
        make_image(team, member, prompt="an approved harbour", state="approved"),
        make_image(team, member, prompt="a pending lighthouse", state="pending"),
        make_image(team, member, prompt="a rejected storm", state="rejected"),
    ]
    generations = [
        make_item(team, member, status="failed", error="Oxen could not make it."),
        make_item(team, member, status="queued"),
        billed,
        # Held by the team's approval threshold (issue 11): its Approve and Decline forms.
        # Older than the rest, so the walk's three item pages are still the same ones.
        make_item(
            team,
            member,
            status="approval",
            error="Waiting for an owner's approval.",
            created_at=timezone.now() - timedelta(days=3),
        ),
    ]
    owner_membership = Membership.objects.get(team=team, user=owner)
    share = sharing_services.share_link_create(
        membership=owner_membership,
        images=images[:1],
        expires_in_days=7,
        show_metadata=True,
        proofing=True,
    )
    locked = sharing_services.share_link_create(
        membership=owner_membership, images=images[:1], expires_in_days=7, password="sesame!"
    )
    revoked = sharing_services.share_link_create(
        membership=owner_membership, images=images[:1], expires_in_days=7
    )
    sharing_services.share_link_revoke(link=revoked.link, membership=owner_membership)
    # A client proofed the link: a pick and a comment (the team's pages show them).
    visitor = proofing.proofing_visitor_create(link=share.link, name="Client", client=None)
    proofing.proofing_pick_set(link=share.link, visitor=visitor, image=images[0], on=True)
    proofing.proofing_comment_add(
        link=share.link, visitor=visitor, image=images[0], body="Warmer, please."
    )
    invitation = invitations.invitation_create(membership=owner_membership, role="member")
    collection = collection_services.collection_create(
        membership=owner_membership, name="Client work", description="For the spring campaign"
    )
    collection_services.collection_add(
        membership=owner_membership, collection=collection, images=images[:2]
    )
    # An API token and a webhook with one delivery: their pages' forms (revoke, Send again).
    api_token_create(membership=owner_membership, name="nightly feed", scopes=["read"])
    endpoint = WebhookEndpoint.objects.create(
        team=team,
        url="https://hooks.example.com/in",
        events=["generation.succeeded"],
        secret=webhooks.secret_new(),
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type="generation.succeeded",
        message_id="msg_site",
        payload={"type": "generation.succeeded"},
        state="failed",
        attempts=1,
    )
    return SiteData(
        owner=owner,
        team=team,
        images=images,
        generations=generations,
        reference=make_reference(),
        share_token=share.token,
        password_share_token=locked.token,
        revoked_share_token=revoked.token,
        invitation_token=invitation.token,
    )
