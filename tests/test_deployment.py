"""docker-compose.yml and the Procfile name only commands and modules that exist."""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def commands_in(service_command: list[str] | str) -> list[list[str]]:
    """Split a service command into the programs it runs (``sh -c "a && b"`` runs two)."""
    argv = shlex.split(service_command) if isinstance(service_command, str) else service_command
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in argv[2].split("&&")]
    return [argv]


def assert_runnable(argv: list[str]) -> None:
    program, *args = argv
    if program == "python" and args[0] == "manage.py":
        assert args[1] in get_commands(), f"no management command {args[1]!r}"
    elif program == "python" and args[0] == "-m":
        importlib.import_module(args[1])
    elif program == "gunicorn":
        module, _, attribute = args[0].partition(":")
        assert hasattr(importlib.import_module(module), attribute or "application")
    elif program == "celery":
        app_module = args[args.index("-A") + 1]
        assert importlib.import_module(app_module).celery_app.main == "gallery"
        assert args[args.index("-A") + 2] in {"worker", "beat", "inspect"}
    else:
        pytest.fail(f"unexpected program {program!r} in {argv}")


def app_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items() if "build" in service}


def test_every_application_service_runs_something_that_exists() -> None:
    services = app_services()
    assert {"web", "worker", "beat", "migrate"} <= set(services)
    for service in services.values():
        for argv in commands_in(service["command"]):
            assert_runnable(argv)


def test_procfile_names_only_existing_programs() -> None:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        _, command = line.split(":", 1)
        argv = shlex.split(command)
        assert argv[0] == "exec", "exec, so honcho signals the program itself, not a shell"
        assert_runnable(argv[1:])


def test_services_wait_for_healthy_dependencies() -> None:
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    for name in ("db", "redis", "web"):
        assert "healthcheck" in services[name], name


def test_redis_is_persistent_and_never_evicts() -> None:
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_data_lives_in_named_volumes() -> None:
    data = compose()
    assert {"pgdata", "media", "redisdata"} <= set(data["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in data["services"]["db"]["volumes"]
    assert all(service.get("env_file") == ".env" for service in app_services().values())


def test_every_gunicorn_redacts_its_logs() -> None:
    """gunicorn's access log writes request lines and Referers: each one that runs the app
    (bin/run, docker compose, the image's default) uses the redacting logger class."""
    import json

    dockerfile_cmd = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD")
    )
    commands = [
        json.loads(dockerfile_cmd.removeprefix("CMD")),
        compose()["services"]["web"]["command"],
        *[
            shlex.split(line.split(":", 1)[1])[1:]
            for line in (ROOT / "Procfile").read_text().splitlines()
            if line.startswith("web:")
        ],
    ]
    assert len(commands) == 3
    for argv in commands:
        assert argv[0] == "gunicorn"
        module, _, name = argv[argv.index("--logger-class") + 1].rpartition(".")
        from gallery.logging import GunicornLogger

        assert getattr(importlib.import_module(module), name) is GunicornLogger
