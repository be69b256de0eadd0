"""Proofing on shared links (issue 16): visitors give a name once, pick and comment; refused
on revoked, expired and non-proofing links, limited in size and rate; comments are escaped on
every page that shows them; the team sees picks and comments on the items and the link,
downloads the picks as a zip and exports a CSV; one digest email per burst of activity."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from PIL import Image

from gallery import tasks
from gallery.accounts.models import User
from gallery.generation.models import GalleryImage
from gallery.sharing import proofing
from gallery.sharing import services as sharing_services
from gallery.sharing.models import ProofingComment, ProofingPick, ProofingVisitor, ShareLink
from gallery.team.models import Membership, Team
from tests.factories import make_image

pytestmark = pytest.mark.django_db
SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def membership(team: Team, member: User) -> Membership:
    member.email = "author@example.com"
    member.save()
    return Membership.objects.select_related("team", "user").get(team=team, user=member)


@pytest.fixture
def images(team: Team, member: User, media_storage: Path) -> list[GalleryImage]:
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    return [
        make_image(team, member, prompt=f"proof {i}", state="approved", colour=colour)
        for i, colour in enumerate(colours)
    ]


def make_link(membership: Membership, images: list[GalleryImage], **options: Any) -> Any:
    options.setdefault("expires_in_days", 7)
    options.setdefault("proofing", True)
    return sharing_services.share_link_create(membership=membership, images=images, **options)


def visitor_client(token: str, name: str = "Dana") -> Client:
    client = Client()
    response = client.post(f"/s/{token}/proofing/name/", {"name": name})
    assert response.status_code == 303 and response["Location"] == f"/s/{token}/#proofing"
    return client


def pick(client: Client, token: str, image: GalleryImage, on: str = "1") -> Any:
    return client.post(f"/s/{token}/proofing/{image.public_id}/pick/", {"on": on})


def comment(client: Client, token: str, image: GalleryImage, body: str) -> Any:
    return client.post(f"/s/{token}/proofing/{image.public_id}/comment/", {"body": body})


def test_a_visitor_names_themselves_once_then_picks_and_comments(
    membership: Membership, images: list[GalleryImage]
) -> None:
    created = make_link(membership, images)
    token = created.token
    page = Client().get(f"/s/{token}/").text
    assert 'action="/s/' in page and "Your name" in page and "proofing/name/" in page
    assert "/pick/" not in page  # nothing to pick before a name is given
    client = visitor_client(token)
    cookie = client.cookies["proofing"]
    assert cookie["path"] == f"/s/{token}/" and cookie["httponly"] and cookie["samesite"] == "Lax"
    page = client.get(f"/s/{token}/").text
    assert "Picking as <strong>Dana</strong>" in page and page.count("/pick/") == 3
    response = pick(client, token, images[0])
    assert response.status_code == 303
    assert response["Location"] == f"/s/{token}/#img-{images[0].public_id}"
    pick(client, token, images[1])
    pick(client, token, images[1])  # twice: still one pick
    assert comment(client, token, images[2], "Warmer light, please.").status_code == 303
    visitor = ProofingVisitor.objects.get()
    assert visitor.name == "Dana"
    assert set(ProofingPick.objects.values_list("image_id", flat=True)) == {
        images[0].pk,
        images[1].pk,
    }
    page = client.get(f"/s/{token}/").text
    assert page.count('aria-pressed="true"') == 2 and "Warmer light, please." in page
    pick(client, token, images[1], on="0")
    assert ProofingPick.objects.count() == 1
    # Another browser is someone else (and sees none of Dana's comments).
    other = visitor_client(token, "Lee")
    assert "Warmer light" not in other.get(f"/s/{token}/").text
    assert ProofingVisitor.objects.count() == 2


def test_actions_need_a_name_first(membership: Membership, images: list[GalleryImage]) -> None:
    token = make_link(membership, images).token
    response = pick(Client(), token, images[0])
    assert response.status_code == 400 and "Give your name" in response.text
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert not ProofingPick.objects.exists()


def test_a_cookie_from_one_link_does_not_work_on_another(
    membership: Membership, images: list[GalleryImage]
) -> None:
    first = make_link(membership, images).token
    second = make_link(membership, images).token
    client = visitor_client(first)
    value = client.cookies["proofing"].value
    stranger = Client()
    stranger.cookies["proofing"] = value  # copied to the other link's path
    assert pick(stranger, second, images[0]).status_code == 400
    assert not ProofingPick.objects.exists()


def test_a_link_without_proofing_takes_no_picks(
    membership: Membership, images: list[GalleryImage]
) -> None:
    token = make_link(membership, images, proofing=False).token
    assert "Your name" not in Client().get(f"/s/{token}/").text
    client = Client()
    assert client.post(f"/s/{token}/proofing/name/", {"name": "Dana"}).status_code == 404
    assert pick(client, token, images[0]).status_code == 404
    assert comment(client, token, images[0], "hi").status_code == 404
    assert not ProofingVisitor.objects.exists()


def test_an_image_outside_the_link_is_a_404(
    membership: Membership, images: list[GalleryImage]
) -> None:
    token = make_link(membership, images[:1]).token
    client = visitor_client(token)
    assert pick(client, token, images[1]).status_code == 404
    assert comment(client, token, images[1], "hi").status_code == 404


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_proofing_on_a_revoked_or_expired_link_is_refused(
    how: str, membership: Membership, images: list[GalleryImage]
) -> None:
    created = make_link(membership, images)
    token = created.token
    client = visitor_client(token)
    assert pick(client, token, images[0]).status_code == 303
    if how == "revoked":
        sharing_services.share_link_revoke(link=created.link, membership=membership)
    else:
        ShareLink.objects.filter(pk=created.link.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    for response in (
        client.post(f"/s/{token}/proofing/name/", {"name": "Again"}),
        pick(client, token, images[1]),
        pick(client, token, images[0], on="0"),
        comment(client, token, images[0], "too late"),
    ):
        assert response.status_code == 410
    assert ProofingVisitor.objects.count() == 1
    assert list(ProofingPick.objects.values_list("image_id", flat=True)) == [images[0].pk]
    assert not ProofingComment.objects.exists()
    # The services refuse too, whatever calls them.
    link = ShareLink.objects.get(pk=created.link.pk)
    visitor = ProofingVisitor.objects.get()
    with pytest.raises(proofing.ProofingError):
        proofing.proofing_comment_add(link=link, visitor=visitor, image=images[0], body="x")
    with pytest.raises(proofing.ProofingError):
        proofing.proofing_pick_set(link=link, visitor=visitor, image=images[1], on=True)


def test_names_and_comments_are_size_limited(
    membership: Membership, images: list[GalleryImage]
) -> None:
    token = make_link(membership, images).token
    long_name = Client().post(f"/s/{token}/proofing/name/", {"name": "x" * 61})
    assert long_name.status_code == 400 and "under 60 characters" in long_name.text
    assert Client().post(f"/s/{token}/proofing/name/", {"name": "   "}).status_code == 400
    client = visitor_client(token)
    too_long = comment(client, token, images[0], "y" * 1001)
    assert too_long.status_code == 400 and "under 1000 characters" in too_long.text
    assert comment(client, token, images[0], " \n ").status_code == 400
    assert comment(client, token, images[0], "z" * 1000).status_code == 303
    assert ProofingComment.objects.get().body == "z" * 1000


def test_proofing_is_rate_limited_per_visitor(
    membership: Membership, images: list[GalleryImage]
) -> None:
    token = make_link(membership, images).token
    client = visitor_client(token)
    statuses = [
        pick(client, token, images[0], on=str(i % 2)).status_code
        for i in range(proofing.ACTIONS_PER_VISITOR_MINUTE + 1)
    ]
    assert statuses[:-1] == [303] * proofing.ACTIONS_PER_VISITOR_MINUTE
    limited = pick(client, token, images[1])
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert "Wait a minute" in limited.text
    assert not ProofingPick.objects.filter(image=images[1]).exists()
    # Names from one address are limited too.
    for _ in range(proofing.VISITORS_PER_CLIENT_HOUR - 1):
        Client().post(f"/s/{token}/proofing/name/", {"name": "again"})
    assert Client().post(f"/s/{token}/proofing/name/", {"name": "more"}).status_code == 429


def test_the_team_sees_picks_and_comments_on_items_and_the_link(
    membership: Membership, images: list[GalleryImage], member_client: Client
) -> None:
    created = make_link(membership, images, note="Acme review")
    token = created.token
    dana = visitor_client(token, "Dana")
    pick(dana, token, images[0])
    pick(dana, token, images[1])
    comment(dana, token, images[1], "Love this one")
    detail = member_client.get(f"/items/{images[1].generation.public_id}/").text
    assert "Client picks and comments" in detail
    assert "Picked by <strong>Dana</strong>" in detail and "Love this one" in detail
    assert "Acme review" in detail
    untouched = member_client.get(f"/items/{images[2].generation.public_id}/").text
    assert "Client picks and comments" not in untouched
    link_page = member_client.get(f"/links/{created.link.public_id}/").text
    assert "<strong>Dana</strong>" in link_page and "picked 2, commented 1" in link_page
    assert "Love this one" in link_page and "picks.zip" in link_page
    assert "Proofing on" in link_page


def test_picks_zip_holds_the_picked_originals(
    membership: Membership, images: list[GalleryImage], member_client: Client
) -> None:
    created = make_link(membership, images)
    token = created.token
    pick(visitor_client(token, "A"), token, images[0])
    b = visitor_client(token, "B")
    pick(b, token, images[0])
    pick(b, token, images[2])
    response = member_client.get(f"/links/{created.link.public_id}/picks.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert len(names) == 2
    assert [str(images[0].public_id) in names[0], str(images[2].public_id) in names[1]] == [
        True,
        True,
    ]
    for name in names:
        with Image.open(io.BytesIO(archive.read(name))) as decoded:
            decoded.verify()
    # Only those who may manage the link: another team's member gets a 404.
    empty = make_link(membership, images)
    assert member_client.get(f"/links/{empty.link.public_id}/picks.zip").status_code == 302


def test_feedback_csv_has_a_row_per_pick_and_comment_and_no_formulas(
    membership: Membership, images: list[GalleryImage], member_client: Client
) -> None:
    created = make_link(membership, images)
    token = created.token
    client = visitor_client(token, "=HYPERLINK(1)")
    pick(client, token, images[0])
    comment(client, token, images[1], "+SUM(A1)\nsecond line")
    response = member_client.get(f"/links/{created.link.public_id}/feedback.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["kind", "visitor", "image", "item", "prompt", "comment", "at"]
    assert [row[0] for row in rows[1:]] == ["pick", "comment"]
    assert rows[1][1] == "'=HYPERLINK(1)" and rows[2][5] == "'+SUM(A1)\nsecond line"
    assert rows[1][2] == str(images[0].public_id)
    assert rows[1][3].endswith(f"/items/{images[0].generation.public_id}/")


def test_script_payloads_are_escaped_on_every_page_that_shows_them(
    membership: Membership, images: list[GalleryImage], member_client: Client
) -> None:
    created = make_link(membership, images)
    token = created.token
    client = visitor_client(token, SCRIPT)
    pick(client, token, images[0])
    comment(client, token, images[0], SCRIPT + "<img src=x onerror=alert(1)>")
    pages = {
        "public": client.get(f"/s/{token}/"),
        "detail": member_client.get(f"/items/{images[0].generation.public_id}/"),
        "link": member_client.get(f"/links/{created.link.public_id}/"),
        "link dialog": member_client.get(
            f"/links/{created.link.public_id}/", HTTP_HX_REQUEST="true"
        ),
    }
    for where, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, where
        assert SCRIPT not in html and "<img src=x" not in html, where
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, where


def test_one_digest_email_per_burst_of_activity(
    membership: Membership,
    images: list[GalleryImage],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
    settings: Any,
) -> None:
    queued: list[tuple[Any, float]] = []
    monkeypatch.setattr(
        tasks.proofing_digest,
        "apply_async",
        lambda args, countdown: queued.append((args, countdown)),
    )
    created = make_link(membership, images, note="Acme")
    token = created.token
    client = visitor_client(token, "Dana")
    with django_capture_on_commit_callbacks(execute=True):
        for image in images:
            pick(client, token, image)
        pick(client, token, images[2], on="0")
        pick(client, token, images[2])
        comment(client, token, images[0], SCRIPT)
        comment(client, token, images[1], "Second thought")
    # Many clicks, one digest queued, after the quiet window.
    assert queued == [((created.link.pk,), settings.PROOFING_DIGEST_DELAY)]
    tasks.proofing_digest(created.link.pk)  # the worker runs it when the countdown ends
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["author@example.com"]
    assert message.subject == "3 picks and 2 comments on “Acme”"
    assert "Dana picked “proof 0”" in message.body and SCRIPT in message.body  # plain text
    assert not message.alternatives  # never HTML
    # Run again (a redelivered message): nothing new, no second email.
    tasks.proofing_digest(created.link.pk)
    assert len(mail.outbox) == 1
    # The next burst gets its own digest, of only what is new.
    with django_capture_on_commit_callbacks(execute=True):
        comment(client, token, images[2], "One more")
        comment(client, token, images[2], "And another")
    assert len(queued) == 2
    tasks.proofing_digest(created.link.pk)
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject == "2 comments on “Acme”"
    assert "Second thought" not in mail.outbox[1].body


def test_the_digest_skips_an_author_without_email(
    membership: Membership, images: list[GalleryImage], settings: Any
) -> None:
    User.objects.filter(pk=membership.user_id).update(email="")
    created = make_link(membership, images)
    client = visitor_client(created.token)
    pick(client, created.token, images[0])
    assert proofing.proofing_digest_send(link_id=created.link.pk) is False
    assert mail.outbox == []


def test_proofing_can_be_switched_on_after_the_link_is_made(
    membership: Membership, images: list[GalleryImage], member_client: Client
) -> None:
    created = make_link(membership, images, proofing=False)
    response = member_client.post(
        f"/links/{created.link.public_id}/edit/",
        {"expires_in_days": "keep", "allow_download": "on", "proofing": "on"},
    )
    assert response.status_code == 302
    created.link.refresh_from_db()
    assert created.link.proofing
    assert "Your name" in Client().get(f"/s/{created.token}/").text
    assert re.search(r"proofing", Client().get(f"/s/{created.token}/").text)


def test_control_characters_are_dropped_from_names_and_comments(
    membership: Membership, images: list[GalleryImage]
) -> None:
    token = make_link(membership, images).token
    client = Client()
    assert client.post(f"/s/{token}/proofing/name/", {"name": "\x00"}).status_code == 400
    assert client.post(f"/s/{token}/proofing/name/", {"name": "Al\x00ex\x07"}).status_code == 303
    assert ProofingVisitor.objects.get().name == "Alex"
    assert comment(client, token, images[0], "line\x00 one\r\nline two\x1b").status_code == 303
    assert ProofingComment.objects.get().body == "line one\nline two"
