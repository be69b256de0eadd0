"""Start-up fails closed: a bad or missing setting stops the process with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 20 + "-production-secret-key-for-tests-0123456789"


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OXEN_"))}
    for name in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "SITE_URL", "REDIS_URL"):
        clean.pop(name, None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_secret_key_with_debug_off_stops_start_up(tmp_path: Path) -> None:
    result = manage("check", env={"VAR_DIR": str(tmp_path)})
    line = one_line_error(result)
    assert line.startswith("configuration error: SECRET_KEY")


def test_nonsense_database_url_stops_start_up(tmp_path: Path) -> None:
    result = manage(
        "check",
        env={"VAR_DIR": str(tmp_path), "SECRET_KEY": STRONG_KEY, "DATABASE_URL": "nonsense"},
    )
    assert "DATABASE_URL" in one_line_error(result)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("SITE_URL", "ftp://example.com"),
        ("REDIS_URL", "localhost:6379"),
        ("OXEN_TIMEOUT", "soon"),
        ("OXEN_REFERENCE_HOSTING", "carrier-pigeon"),
        ("CELERY_VISIBILITY_TIMEOUT", "10"),
    ],
)
def test_malformed_value_names_its_variable(tmp_path: Path, name: str, value: str) -> None:
    result = manage("check", env={"VAR_DIR": str(tmp_path), "SECRET_KEY": STRONG_KEY, name: value})
    assert one_line_error(result).startswith(f"configuration error: {name}")


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret"
    key_file.write_text(STRONG_KEY)
    result = manage("check", env={"VAR_DIR": str(tmp_path), "SECRET_KEY_FILE": str(key_file)})
    assert result.returncode == 0, result.stderr


def test_deploy_check_is_clean_under_production_settings(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": STRONG_KEY,
            "SITE_URL": "https://gallery.example.com",
            "OXEN_API_KEY": "a-real-looking-key",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_loopback_oxen_url_without_simulator_flag_is_refused(tmp_path: Path) -> None:
    result = manage(
        "check",
        env={
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": STRONG_KEY,
            "OXEN_API_KEY": "key",
            "OXEN_BASE_URL": "http://127.0.0.1:8900",
        },
    )
    assert result.returncode != 0
    assert "gallery.E001" in result.stderr


def test_s3_bucket_moves_media_to_s3_compatible_storage(tmp_path: Path) -> None:
    code = (
        "from django.core.files.storage import storages; s = storages['default']; "
        "print(type(s).__name__, s.bucket_name, s.endpoint_url)"
    )
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        code,
        env={
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": STRONG_KEY,
            "S3_BUCKET": "gallery-media",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "gallery-media", "http://127.0.0.1:9000"]


def test_redis_url_switches_broker_and_cache_to_redis(tmp_path: Path) -> None:
    code = (
        "from django.conf import settings; "
        "print(settings.CELERY_BROKER_URL, settings.CACHES['default']['BACKEND'])"
    )
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        code,
        env={"VAR_DIR": str(tmp_path), "SECRET_KEY": STRONG_KEY, "REDIS_URL": "redis://h:6379/2"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "redis://h:6379/2",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_without_redis_the_cache_is_the_file_cache_with_atomic_add_and_incr(
    tmp_path: Path,
) -> None:
    code = "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    result = manage(
        "shell", "--verbosity", "0", "-c", code,
        env={"VAR_DIR": str(tmp_path), "SECRET_KEY": STRONG_KEY},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["gallery.cache.FileBasedCache"]
