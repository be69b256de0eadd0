"""Ingest near the floor (issue 15): one read and one decode per result, the grid's 400 px
rendition and the placeholder from it, the 800 and 1600 px renditions made after on their own
queue with the same bytes as before, and results ingested on a queue (and worker) of their
own."""

from __future__ import annotations

import io
import math
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.files.storage import storages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageChops, ImageStat

from gallery.accounts.models import User
from gallery.generation import ingest, submit, track
from gallery.generation.models import Generation
from gallery.media import imaging
from gallery.media.models import Thumbnail
from gallery.media.renditions import EAGER_WIDTHS, LATER_WIDTHS, PREVIEW_WIDTH, THUMBNAIL_WIDTHS
from gallery.team.models import Team
from seedream.simulator import Simulator
from tests.conftest import ids, new_request
from tests.factories import make_item
from tests.gallery.test_imaging import encode, textured

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fixture_jpeg() -> bytes:
    """A 2400x1800 photo-like JPEG: wider than the preview, decoded with DCT scaling."""
    return encode(textured((2400, 1800)), "JPEG", quality=90)


def old_path(data: bytes) -> tuple[imaging.ResultInfo, list[imaging.Thumbnail], str]:
    """What ingest did before issue 15: inspect, three renditions, placeholder from WebP."""
    info = imaging.result_inspect(data)
    thumbnails = imaging.thumbnails_make(data, THUMBNAIL_WIDTHS)
    return info, thumbnails, imaging.placeholder_make(thumbnails[0].data)


def psnr(a: bytes, b: bytes) -> float:
    first, second = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
    assert first.size == second.size
    diff = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_result_ingest_reports_what_result_inspect_reports(fixture_jpeg: bytes) -> None:
    result = imaging.result_ingest(fixture_jpeg, EAGER_WIDTHS)
    info, _, _ = old_path(fixture_jpeg)
    assert result.info == info


def test_the_grid_rendition_has_the_old_size_and_looks_the_same(fixture_jpeg: bytes) -> None:
    result = imaging.result_ingest(fixture_jpeg, EAGER_WIDTHS)
    _, old, old_placeholder = old_path(fixture_jpeg)
    assert [(t.width, t.height) for t in result.thumbnails] == [(400, 300)]
    (new,) = result.thumbnails
    assert (new.width, new.height) == (old[0].width, old[0].height) and new.format == "WEBP"
    # Same picture; the bytes differ (one decode scaled for 400 px, not a chain from 1600).
    assert psnr(new.data, old[0].data) > 30
    assert imaging.placeholder_colour(result.placeholder)  # a valid blurhash
    assert len(result.placeholder) == len(old_placeholder)


def test_the_later_renditions_are_byte_identical_to_the_old_path(fixture_jpeg: bytes) -> None:
    _, old, _ = old_path(fixture_jpeg)
    later = imaging.thumbnails_make(fixture_jpeg, LATER_WIDTHS)
    assert [t.width for t in later] == [800, PREVIEW_WIDTH] == [t.width for t in old[1:]]
    assert [t.data for t in later] == [t.data for t in old[1:]]


def test_result_ingest_decodes_once_and_reads_once(
    fixture_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes: list[tuple[int, int]] = []
    reads: list[int] = []
    decode, read = imaging._decode, imaging._read

    def counting_decode(im: Any, fmt: Any, *, draft: tuple[int, int], subject: Any) -> None:
        decode(im, fmt, draft=draft, subject=subject)
        decodes.append(im.size)

    def counting_read(source: Any, **kwargs: Any) -> bytes:
        data = read(source, **kwargs)
        reads.append(len(data))
        return data

    monkeypatch.setattr(imaging, "_decode", counting_decode)
    monkeypatch.setattr(imaging, "_read", counting_read)
    imaging.result_ingest(fixture_jpeg, EAGER_WIDTHS)
    assert reads == [len(fixture_jpeg)]
    assert decodes == [(600, 450)]  # DCT-scaled for 400 px, not 2400x1800 nor 1200 for 1600


@pytest.mark.parametrize("cut", [2, 5_000, 60_000])
def test_result_ingest_still_refuses_a_truncated_result(fixture_jpeg: bytes, cut: int) -> None:
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.result_ingest(fixture_jpeg[:-cut], EAGER_WIDTHS)
    assert caught.value.code in ("truncated", "damaged")


def test_result_ingest_refuses_a_png_with_a_bad_checksum() -> None:
    data = bytearray(encode(textured((64, 64)), "PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT chunk (its CRC no longer matches)
    with pytest.raises(imaging.ImageRejected):
        imaging.result_ingest(bytes(data), EAGER_WIDTHS)


def test_a_small_result_gets_one_rendition_at_its_own_width() -> None:
    result = imaging.result_ingest(encode(textured((300, 200)), "PNG"), EAGER_WIDTHS)
    assert [(t.width, t.height) for t in result.thumbnails] == [(300, 200)]


@pytest.mark.django_db
def test_the_later_task_adds_the_old_800_and_1600_px_renditions(
    team: Team, member: User, media_storage: Path, fixture_jpeg: bytes
) -> None:
    generation = make_item(team, member, size=(2400, 1800), thumbnail_widths=EAGER_WIDTHS)
    image = generation.image
    storages["default"].save(image.file.name, io.BytesIO(fixture_jpeg))
    before = generation.updated_at
    ingest.image_preview_make(image_id=image.pk)
    ingest.image_preview_make(image_id=image.pk)  # twice: nothing more
    later = list(Thumbnail.objects.filter(image=image, width__in=LATER_WIDTHS).order_by("width"))
    assert [(t.width, t.height) for t in later] == [(800, 600), (1600, 1200)]
    _, old, _ = old_path(fixture_jpeg)
    assert [(media_storage / t.file.name).read_bytes() for t in later] == [t.data for t in old[1:]]
    assert Thumbnail.objects.filter(image=image).count() == 3
    generation.refresh_from_db()
    assert generation.updated_at > before  # live pages pick up the new srcset


@pytest.mark.django_db
def test_the_later_task_makes_only_what_an_image_lacks_and_never_upscales(
    team: Team, member: User, media_storage: Path, fixture_jpeg: bytes
) -> None:
    done = make_item(team, member, size=(1600, 1600), thumbnail_widths=(400, 800))
    ingest.image_preview_make(image_id=done.image.pk)  # 1600 is not narrower than the image
    assert Thumbnail.objects.filter(image=done.image).count() == 2
    older = make_item(team, member, size=(2400, 1800), thumbnail_widths=(400, 800))
    storages["default"].save(older.image.file.name, io.BytesIO(fixture_jpeg))
    ingest.image_preview_make(image_id=older.image.pk)  # ingested before: only its preview
    assert sorted(older.image.thumbnails.values_list("width", flat=True)) == [400, 800, 1600]


def test_results_have_a_queue_of_their_own_and_the_preview_a_low_priority_one() -> None:
    routes = settings.CELERY_TASK_ROUTES
    ingest_queue = settings.CELERY_INGEST_QUEUE
    assert routes["gallery.tasks.generation_ingest"]["queue"] == ingest_queue
    assert routes["gallery.tasks.generation_completed"]["queue"] == ingest_queue
    assert routes["gallery.tasks.image_preview_make"]["queue"] == settings.CELERY_PREVIEW_QUEUE
    assert "gallery.tasks.generation_submit" not in routes  # submissions stay on the default
    names = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    preview_queue = settings.CELERY_PREVIEW_QUEUE
    assert names == {settings.CELERY_TASK_DEFAULT_QUEUE, ingest_queue, preview_queue}


def _queues(argv: list[str]) -> tuple[list[str], int]:
    return argv[argv.index("-Q") + 1].split(","), int(argv[argv.index("--concurrency") + 1])


def test_the_procfile_runs_an_ingest_worker_with_several_slots() -> None:
    lines = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    default = "${CELERY_QUEUE:-celery}"
    ingest_queues, slots = _queues(shlex.split(lines["ingest"], posix=False))
    assert ingest_queues == [f"{default}-ingest"] and slots > 1
    worker_queues, _ = _queues(shlex.split(lines["worker"], posix=False))
    assert worker_queues == [default, f"{default}-preview"]
    run = (ROOT / "bin" / "run").read_text()
    assert "worker ingest" in run


def test_docker_compose_runs_an_ingest_worker_with_several_slots() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ingest_queues, slots = _queues(services["ingest"]["command"])
    assert ingest_queues == ["celery-ingest"] and slots > 1
    worker_queues, _ = _queues(services["worker"]["command"])
    assert worker_queues == ["celery", "celery-preview"]


def test_a_stored_image_s_preview_is_queued_after_the_ingest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gallery import tasks
    from gallery.generation.lifecycle import Next

    sent: list[int] = []
    monkeypatch.setattr(tasks.image_preview_make, "delay", sent.append)
    tasks._follow(tasks.generation_ingest, 1, Next(preview=42))
    tasks._follow(tasks.generation_ingest, 1, Next.done())
    assert sent == [42]


@pytest.mark.django_db
def test_previews_wait_while_results_are_ingested(
    team: Team,
    member: User,
    media_storage: Path,
    fixture_jpeg: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst of completions (issue 15): the preview, which costs about as much CPU as an
    ingest, comes back later while an ingest ran in the last few seconds, and is made once
    none has (or once it has waited PREVIEW_MAX_WAIT, so a busy pipeline still gets them)."""
    from django.core.cache import cache

    from gallery import tasks

    generation = make_item(team, member, size=(2400, 1800), thumbnail_widths=(400, 800))
    image = generation.image
    storages["default"].save(image.file.name, io.BytesIO(fixture_jpeg))
    later: list[tuple[tuple[int, float], float]] = []
    monkeypatch.setattr(
        tasks.image_preview_make,
        "apply_async",
        lambda args, countdown: later.append((args, countdown)),
    )
    cache.set(ingest.INGEST_BUSY_KEY, True)  # what every ingest does as it starts

    tasks.image_preview_make(image.pk)
    assert later == [((image.pk, 3.0), 3.0)]
    assert not Thumbnail.objects.filter(image=image, width=PREVIEW_WIDTH).exists()

    tasks.image_preview_make(image.pk, ingest.PREVIEW_MAX_WAIT)  # waited long enough
    assert len(later) == 1
    assert Thumbnail.objects.filter(image=image, width=PREVIEW_WIDTH).exists()

    Thumbnail.objects.filter(image=image, width=PREVIEW_WIDTH).delete()
    cache.delete(ingest.INGEST_BUSY_KEY)  # no ingest for INGEST_BUSY_SECONDS
    tasks.image_preview_make(image.pk)
    assert len(later) == 1
    assert Thumbnail.objects.filter(image=image, width=PREVIEW_WIDTH).exists()


@pytest.mark.django_db
def test_an_ingest_marks_the_pipeline_busy(team: Team, member: User, settings: Any) -> None:
    from django.core.cache import cache

    from gallery.generation.models import Generation

    settings.OXEN_API_KEY = "test-key"
    generation = make_item(team, member, status=Generation.Status.DOWNLOADING)
    cache.delete(ingest.INGEST_BUSY_KEY)
    ingest.generation_ingest(generation_id=generation.pk)  # no result URL: fails, after marking
    assert cache.get(ingest.INGEST_BUSY_KEY)


@pytest.mark.django_db(transaction=True)
def test_a_completion_event_is_stored_in_eleven_statements(
    oxen_sim: Simulator, team: Team, member: User
) -> None:
    """The event and the ingest of one result, as the ingest worker runs them: a burst of
    completions pays every statement 100 times over (issue 15: 15 before, with a second lookup
    of the row by Oxen's id, a second lock of a row already downloading, and the webhook
    payload's two queries for a team that has no webhooks)."""
    [pk] = ids(new_request(team, member))
    submit.generation_submit(generation_id=pk)
    upstream_id = Generation.objects.get(pk=pk).upstream_id
    oxen_sim.finish(upstream_id)
    with CaptureQueriesContext(connection) as queries:
        outcome = track.generation_event_apply(
            upstream_id=upstream_id,
            status="succeeded",
            url=oxen_sim.result_url(upstream_id),
            error=None,
        )
        assert outcome.ingest and outcome.generation_id == pk
        ingest.generation_ingest(generation_id=pk)
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0].upper() not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    ]
    assert Generation.objects.get(pk=pk).status == "succeeded"
    assert len(statements) <= 11, "\n".join(statements)
