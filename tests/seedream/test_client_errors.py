"""Error mapping, retry timing and the rules for POSTs that create work, on a mock transport.

Every test that fails a request also checks that the API key is nowhere in the error."""

from __future__ import annotations

import logging
import pickle
import random
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from seedream.config import RetryPolicy
from seedream.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    ConnectFailedError,
    InsufficientCreditsError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OxenError,
    PermissionDeniedError,
    RateLimitedError,
    SchemaValidationError,
    TransientError,
    error_for_status,
    parse_error_body,
    parse_retry_after,
)
from seedream.retry import Retrier, backoff_delay
from tests.seedream.conftest import API_KEY, queue_row

ENVELOPE_A = {
    "error": {
        "type": "invalid_params",
        "title": "Invalid parameters supplied",
        "detail": "size must be 2K or 4K",
    },
    "status": "error",
    "status_message": "invalid_params",
}
ENVELOPE_B = {"error": {"message": "Model not found: bad-model"}}


def assert_no_key(error: BaseException) -> None:
    for text in (str(error), repr(error), getattr(error, "user_message", ""), str(error.args)):
        assert API_KEY not in text


@pytest.mark.parametrize(
    ("status", "body", "error_class", "detail"),
    [
        (
            401,
            {
                "error": {"type": "unauthenticated", "title": "Unauthenticated"},
                "status": "error",
                "status_message": "unauthenticated",
            },
            AuthenticationError,
            "Unauthenticated",
        ),
        (403, {"error": {"message": "forbidden"}}, PermissionDeniedError, "forbidden"),
        (
            404,
            {
                "error": {
                    "type": "resource_not_found",
                    "title": "The requested resource could not be found",
                },
                "status": "error",
                "status_message": "resource_not_found",
            },
            NotFoundError,
            "The requested resource could not be found",
        ),
        (400, ENVELOPE_A, InvalidRequestError, "size must be 2K or 4K"),
        (
            422,
            {"error": {"message": "Getting model response error: 422 - Value error"}},
            InvalidRequestError,
            "Getting model response error: 422 - Value error",
        ),
        (404, ENVELOPE_B, NotFoundError, "Model not found: bad-model"),
        (
            400,
            {"error": {"message": "Insufficient credits"}},
            InsufficientCreditsError,
            "Insufficient credits",
        ),
        (
            402,
            {"error": {"message": "Payment required"}},
            InsufficientCreditsError,
            "Payment required",
        ),
        (
            403,
            {"error": {"type": "forbidden", "detail": "insufficient_credits for namespace"}},
            InsufficientCreditsError,
            "insufficient_credits for namespace",
        ),
        (
            429,
            {"error": {"message": "Rate limit exceeded"}},
            RateLimitedError,
            "Rate limit exceeded",
        ),
        (
            500,
            {
                "error": {"type": "unknown_error"},
                "status": "error",
                "status_message": "unknown_error",
            },
            TransientError,
            "unknown_error",
        ),
        (503, "<html><body>Service Unavailable</body></html>", TransientError, None),
    ],
)
def test_error_statuses_map_to_classes_with_oxens_detail(
    make_client, fake_oxen, status, body, error_class, detail
):
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, dict)
        else httpx.Response(status, text=body, headers={"content-type": "text/html"})
    )
    fake_oxen.on("GET /api/ai/queue/gen-1", response)

    with pytest.raises(error_class) as caught:
        make_client().queue_get("gen-1", retries=0)

    error = caught.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.detail == detail
    assert error.user_message and "HTTP" not in error.user_message
    assert_no_key(error)


def test_both_envelopes_parse():
    a = parse_error_body(ENVELOPE_A)
    assert (a.error_type, a.title, a.detail) == (
        "invalid_params",
        "Invalid parameters supplied",
        "size must be 2K or 4K",
    )
    b = parse_error_body(b'{"error":{"message":"Model not found: bad-model"}}')
    assert b.text == "Model not found: bad-model"
    assert parse_error_body(b"<html>").text is None


def test_invalid_request_user_message_quotes_oxens_detail():
    error = error_for_status(400, parse_error_body(ENVELOPE_A))

    assert error.user_message == "Oxen rejected the request: size must be 2K or 4K"
    assert error.retryable is False


def test_html_200_on_a_get_is_a_transient_malformed_response(make_client, fake_oxen):
    fake_oxen.on("GET /api/ai/queue/gen-1", httpx.Response(200, text="<html>proxy login</html>"))

    with pytest.raises(MalformedResponseError) as caught:
        make_client().queue_get("gen-1", retries=0)

    assert caught.value.retryable is True


def test_json_missing_required_fields_is_malformed(make_client, fake_oxen):
    fake_oxen.on("GET /api/ai/queue/gen-1", {"generation_id": "gen-1"})

    with pytest.raises(MalformedResponseError):
        make_client().queue_get("gen-1", retries=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), ("0.5", 0.5), (" 7 ", 7.0), ("-3", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_http_date():
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 11, 24, 12, 0, 42, tzinfo=UTC), usegmt=True)

    assert parse_retry_after(later, now=now.timestamp()) == 42.0
    assert parse_retry_after("Tue, 24 Nov 2026 11:00:00 GMT", now=now.timestamp()) == 0.0


def test_backoff_is_full_jitter_and_capped():
    rng = random.Random(1)
    samples = [
        [backoff_delay(n, base=0.5, cap=30.0, rng=rng) for _ in range(300)] for n in range(10)
    ]

    for attempt, values in enumerate(samples):
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert all(0 <= v <= ceiling for v in values)
        assert max(values) > 0.8 * ceiling  # spread over the whole range: full jitter
        assert min(values) < 0.2 * ceiling
    assert max(samples[9]) <= 30.0


def test_gets_retry_transient_errors_with_capped_jittered_backoff(
    make_client, fake_oxen, fake_sleep
):
    fake_oxen.on(
        "GET /api/ai/queue/gen-1",
        httpx.Response(503, json={"error": {"type": "unknown_error"}}),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(500, json={"error": {"type": "unknown_error"}}),
        queue_row(),
    )

    row = make_client().queue_get("gen-1")

    assert row.generation_id == "gen-1"
    assert len(fake_oxen.calls("GET /api/ai/queue/gen-1")) == 4
    assert len(fake_sleep.delays) == 3
    for attempt, delay in enumerate(fake_sleep.delays):
        assert 0 <= delay <= 0.5 * 2**attempt


def test_retries_stop_after_max_attempts(make_client, fake_oxen, fake_sleep):
    fake_oxen.on("GET /api/ai/queue/gen-1", httpx.Response(500, json={}))

    with pytest.raises(TransientError):
        make_client(retry=RetryPolicy(max_attempts=3, base_delay=10, max_delay=12)).queue_get(
            "gen-1"
        )

    assert len(fake_oxen.calls("GET /api/ai/queue/gen-1")) == 3
    assert all(d <= 12 for d in fake_sleep.delays)


def test_retry_after_is_a_floor_for_the_next_request(make_client, fake_oxen, fake_sleep):
    fake_oxen.on(
        "GET /api/ai/queue/gen-1",
        httpx.Response(
            429, json={"error": {"message": "Rate limit exceeded"}}, headers={"Retry-After": "7"}
        ),
        queue_row(),
    )

    make_client().queue_get("gen-1")

    assert fake_sleep.delays == [7.0]


def test_retry_after_as_http_date_is_honoured(make_client, fake_oxen, fake_sleep):
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    retry_at = format_datetime(datetime(2026, 11, 24, 12, 0, 5, tzinfo=UTC), usegmt=True)
    fake_oxen.on(
        "GET /api/ai/queue/gen-1",
        httpx.Response(503, json={}, headers={"Retry-After": retry_at}),
        queue_row(),
    )
    client = make_client()
    client._clock = lambda: now.timestamp()  # the server's clock and ours agree

    client.queue_get("gen-1")

    assert fake_sleep.delays == [5.0]


def test_a_retry_after_beyond_max_sleep_is_raised_for_the_caller_to_reschedule(
    make_client, fake_oxen, fake_sleep
):
    fake_oxen.on(
        "GET /api/ai/queue/gen-1",
        httpx.Response(
            429, json={"error": {"message": "Rate limit exceeded"}}, headers={"Retry-After": "600"}
        ),
    )

    with pytest.raises(RateLimitedError) as caught:
        make_client().queue_get("gen-1")

    assert caught.value.retry_after == 600.0
    assert fake_sleep.delays == []
    assert len(fake_oxen.calls("GET /api/ai/queue/gen-1")) == 1


def test_retries_zero_surfaces_the_first_error(make_client, fake_oxen, fake_sleep):
    fake_oxen.on(
        "GET /api/ai/queue/gen-1", httpx.Response(503, json={}, headers={"Retry-After": "1"})
    )

    with pytest.raises(TransientError) as caught:
        make_client().queue_get("gen-1", retries=0)

    assert caught.value.retry_after == 1.0
    assert fake_sleep.delays == []


def test_delete_is_retried_like_a_get(make_client, fake_oxen, fake_sleep):
    fake_oxen.on(
        "DELETE /api/ai/queue/gen-1",
        httpx.Response(500, json={}),
        {"status": "success", "generation_id": "gen-1"},
    )

    assert make_client().queue_cancel("gen-1").status == "success"
    assert len(fake_sleep.delays) == 1


def test_client_errors_are_not_retried(make_client, fake_oxen, fake_sleep):
    fake_oxen.on(
        "GET /api/ai/queue/gen-1",
        httpx.Response(404, json={"error": {"type": "resource_not_found"}}),
    )

    with pytest.raises(NotFoundError):
        make_client().queue_get("gen-1")

    assert fake_sleep.delays == []


def raiser(exc_class: type[httpx.HTTPError]):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_class("simulated", request=request)

    return handler


@pytest.mark.parametrize(
    "exc_class", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout]
)
def test_queue_post_is_never_repeated_after_it_may_have_been_sent(
    make_client, fake_oxen, fake_sleep, exc_class
):
    fake_oxen.on("POST /api/ai/queue", raiser(exc_class))

    with pytest.raises(AmbiguousSubmitError) as caught:
        make_client().queue_submit({"prompt": "p"})

    assert len(fake_oxen.calls("POST /api/ai/queue")) == 1
    assert fake_sleep.delays == []
    assert caught.value.retryable is False
    assert_no_key(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_the_queue_post_is_ambiguous_not_retried(make_client, fake_oxen, status):
    fake_oxen.on(
        "POST /api/ai/queue", httpx.Response(status, json={"error": {"type": "unknown_error"}})
    )

    with pytest.raises(AmbiguousSubmitError) as caught:
        make_client().queue_submit({"prompt": "p"})

    assert caught.value.status_code == status
    assert len(fake_oxen.calls("POST /api/ai/queue")) == 1


def test_an_unreadable_200_on_the_queue_post_is_ambiguous(make_client, fake_oxen):
    fake_oxen.on("POST /api/ai/queue", httpx.Response(200, text="<html>oops</html>"))

    with pytest.raises(AmbiguousSubmitError):
        make_client().queue_submit({"prompt": "p"})


@pytest.mark.parametrize("exc_class", [httpx.ConnectError, httpx.ConnectTimeout])
def test_queue_post_is_retried_when_the_connection_never_opened(
    make_client, fake_oxen, fake_sleep, exc_class
):
    fake_oxen.on(
        "POST /api/ai/queue",
        raiser(exc_class),
        {"generations": [{"generation_id": "g1", "status": "queued"}]},
    )

    queued = make_client().queue_submit({"prompt": "p"})

    assert queued[0].generation_id == "g1"
    assert len(fake_oxen.calls("POST /api/ai/queue")) == 2
    assert len(fake_sleep.delays) == 1


def test_connect_failures_surface_with_retries_zero(make_client, fake_oxen):
    fake_oxen.on("POST /api/ai/queue", raiser(httpx.ConnectError))

    with pytest.raises(ConnectFailedError) as caught:
        make_client().queue_submit({"prompt": "p"}, retries=0)

    assert caught.value.retryable is True


def test_a_429_on_the_queue_post_is_raised_at_once_with_retry_after(
    make_client, fake_oxen, fake_sleep
):
    fake_oxen.on(
        "POST /api/ai/queue",
        httpx.Response(
            429, json={"error": {"message": "Rate limit exceeded"}}, headers={"Retry-After": "2"}
        ),
    )

    with pytest.raises(RateLimitedError) as caught:
        make_client().queue_submit({"prompt": "p"})

    assert caught.value.retry_after == 2.0
    assert len(fake_oxen.calls("POST /api/ai/queue")) == 1
    assert fake_sleep.delays == []


def test_a_sync_image_call_is_not_repeated_after_a_read_timeout(make_client, fake_oxen):
    fake_oxen.on("POST /api/ai/images/edit", raiser(httpx.ReadTimeout))

    with pytest.raises(AmbiguousSubmitError):
        make_client().images_edit({"prompt": "p"})

    assert len(fake_oxen.calls("POST /api/ai/images/edit")) == 1


def test_get_read_timeouts_are_transient_and_retried(make_client, fake_oxen, fake_sleep):
    fake_oxen.on("GET /api/ai/queue/gen-1", raiser(httpx.ReadTimeout), queue_row())

    assert make_client().queue_get("gen-1").generation_id == "gen-1"
    assert len(fake_sleep.delays) == 1


def test_retrier_never_sleeps_longer_than_max_sleep():
    slept: list[float] = []
    retrier = Retrier(
        RetryPolicy(max_attempts=10, base_delay=100, max_delay=1000, max_sleep=5),
        sleep=slept.append,
        rng=random.Random(3),
    )
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        raise TransientError("down")

    with pytest.raises(TransientError):
        retrier.call(flaky, should_retry=lambda e: True)

    assert all(d <= 5 for d in slept)
    assert calls == len(slept) + 1


# -- the key never leaks --------------------------------------------------------------------


def echoing_server(request: httpx.Request) -> httpx.Response:
    """A hostile or buggy server that quotes the request's headers back in its error."""
    echoed = request.headers.get("authorization", "")
    return httpx.Response(
        400, json={"error": {"type": "invalid_params", "detail": f"bad header {echoed}"}}
    )


def test_a_key_echoed_by_the_server_is_scrubbed_from_the_error(make_client, fake_oxen):
    fake_oxen.on("GET /api/ai/queue/gen-1", echoing_server)

    with pytest.raises(InvalidRequestError) as caught:
        make_client().queue_get("gen-1")

    assert "[redacted]" in str(caught.value)
    assert_no_key(caught.value)


def test_the_key_is_in_no_exception_text_and_no_log_record(make_client, fake_oxen, caplog):
    caplog.set_level(logging.DEBUG)
    fake_oxen.on(
        "GET /api/ai/queue/a", httpx.Response(401, json={"error": {"type": "unauthenticated"}})
    )
    fake_oxen.on(
        "GET /api/ai/queue/b",
        httpx.Response(503, json={}),
        httpx.Response(500, json={}),
        httpx.Response(502, json={}),
        httpx.Response(504, json={}),
    )
    fake_oxen.on("GET /api/ai/queue/c", echoing_server)
    fake_oxen.on("POST /api/ai/queue", raiser(httpx.ReadTimeout))
    fake_oxen.on("GET /api/ai/generations/d", httpx.Response(200, text="<html>"))
    client = make_client()
    errors: list[OxenError] = []
    calls = [
        lambda: client.queue_get("a"),
        lambda: client.queue_get("b"),
        lambda: client.queue_get("c"),
        lambda: client.queue_submit({"prompt": "p"}),
        lambda: client.queue_submit({"prompt": ""}),
        lambda: client.generation_get("d"),
    ]
    for call in calls:
        with pytest.raises(OxenError) as caught:
            call()
        errors.append(caught.value)

    assert {type(e) for e in errors} >= {
        AuthenticationError,
        TransientError,
        InvalidRequestError,
        AmbiguousSubmitError,
        SchemaValidationError,
        MalformedResponseError,
    }
    for error in errors:
        assert_no_key(error)
        assert API_KEY not in str(pickle.loads(pickle.dumps(error)))
    assert API_KEY not in repr(client) + repr(client.config) + str(client.config.api_key)
    assert caplog.records, "the retries above should have logged"
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in caplog.text


def test_errors_survive_pickling_for_celery():
    error = RateLimitedError(
        "slow down", status_code=429, retry_after=3.0, detail="Rate limit exceeded"
    )

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is RateLimitedError
    assert (copy.message, copy.status_code, copy.retry_after, copy.detail) == (
        "slow down",
        429,
        3.0,
        "Rate limit exceeded",
    )
    schema_error = pickle.loads(pickle.dumps(SchemaValidationError([])))
    assert schema_error.problems == ()


def test_a_secret_is_masked_and_cannot_be_pickled():
    from seedream.config import ClientConfig, Secret

    config = ClientConfig(api_key=API_KEY)  # a plain string is wrapped at once

    assert isinstance(config.api_key, Secret)
    assert API_KEY not in repr(config) + str(config.api_key) + f"{config.api_key}"
    assert config.api_key.reveal() == API_KEY
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(config)


def test_a_200_of_the_wrong_shape_on_the_queue_post_is_ambiguous(make_client, fake_oxen):
    fake_oxen.on("POST /api/ai/queue", {"generations": [{"status": "queued"}]})

    with pytest.raises(AmbiguousSubmitError):
        make_client().queue_submit({"prompt": "p"})

    assert len(fake_oxen.calls("POST /api/ai/queue")) == 1
