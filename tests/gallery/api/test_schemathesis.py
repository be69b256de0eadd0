"""schemathesis against the API's own OpenAPI document (``/api/v1/openapi.json``): every
operation, with inputs generated from the document (valid ones and, for bodies and queries,
invalid ones), for a token of each scope (and one with all of them): no server error, and
every answer matches the document (status code, content type, body schema).

Each operation is tried with generated ids (another team's or none: 404) and with this team's
real ids, so the code behind the access check runs too. Bounded and deterministic:
``SCHEMATHESIS_EXAMPLES`` examples per operation, mode and scope (default 4), derandomized."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gallery.accounts.models import User
from gallery.api.models import WebhookEndpoint
from gallery.sharing import services as sharing_services
from gallery.team.models import Membership, Team
from seedream.simulator import Simulator
from tests.factories import make_image, make_item

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SCOPES = ["read", "generate", "review", "share", "admin"]


@pytest.fixture
def real_ids(team: Team, member: User, media_storage: Path) -> dict[str, str]:
    owner = User.objects.get(username="owner")
    owner.is_staff = True  # the review scope's role: a staff reviewer of the team
    owner.save()
    image = make_image(team, member, state="pending")
    make_image(team, member, state="approved")
    failed = make_item(team, member, status="failed", error="no")
    link = sharing_services.share_link_create(
        membership=Membership.objects.get(team=team, user=owner),
        images=[image],
        expires_in_days=7,
    ).link
    webhook = WebhookEndpoint.objects.create(
        team=team, url="https://hooks.example.com/in", events=["image.reviewed"], secret="whsec_x"
    )
    return {
        "image_id": str(image.public_id),
        "generation_id": str(failed.public_id),
        "link_id": str(link.public_id),
        "webhook_id": str(webhook.public_id),
    }


def test_every_operation_for_every_scope_matches_the_document(
    oxen_sim: Simulator,
    team: Team,
    real_ids: dict[str, str],
    make_token: Callable[..., str],
    settings: Any,
) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    document = Client().get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    app = get_wsgi_application()
    owner = User.objects.get(username="owner")
    calls: list[int] = []
    # The WSGI handler closes "old" connections after each request, which would end the
    # test's transaction; Django's test client holds these signals off the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for scopes in [[scope] for scope in SCOPES] + [SCOPES]:
            headers = {"Authorization": f"Bearer {make_token(owner, team, scopes)}"}
            for operation in operations:
                params = {p.name for p in operation.path_parameters}
                strategies = [operation.as_strategy(mode) for mode in GenerationMode]
                if params:
                    ours = {name: real_ids[name] for name in params}
                    strategies.append(operation.as_strategy(path_parameters=ours))
                for strategy in strategies:
                    _explore(strategy, app=app, headers=headers, calls=calls)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert len(calls) >= len(operations) * len(SCOPES) * 2
    assert {200, 201, 404, 422} <= set(calls)  # the code behind the checks ran too


def _explore(strategy: Any, *, app: Any, headers: dict[str, str], calls: list[int]) -> None:
    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(app=app, headers=headers)
        calls.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
