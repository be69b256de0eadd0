from __future__ import annotations

import pytest
from django.test import Client

from gallery import health

pytestmark = pytest.mark.django_db


def test_healthz_reports_each_part(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "storage"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_a_part_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "status": "error",
        "error": "ConnectionError",
        "ms": response.json()["checks"]["broker"]["ms"],
    }


def test_healthz_refuses_post(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
