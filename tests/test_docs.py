"""The README and .env.example list every setting the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = r"(?:env_(?:str|bool|int|float|list|choice|url)|_database_from_url)\(\s*\"([A-Z0-9_]+)\""


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "gallery" / "settings.py").read_text()
    return set(re.findall(READERS, source))


def test_settings_read_at_least_the_core_variables() -> None:
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "OXEN_API_KEY"} <= (
        variables_read_by_settings()
    )


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in variables_read_by_settings() if f"`{name}`" not in readme}
    assert not missing, f"add to the README's configuration table: {sorted(missing)}"


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = {
        name
        for name in variables_read_by_settings()
        if not re.search(rf"^#?\s*{name}=", example, re.MULTILINE)
    }
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_quick_start_has_exactly_the_two_commands_ci_uses() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick_start, re.DOTALL)
    assert block
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["bin/run", "bin/test"]
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("exec bin/test")


def python_packages() -> list[str]:
    """Every package of the project's code, as ``gallery/team/``, except migrations."""
    return sorted(
        f"{init.parent.relative_to(ROOT).as_posix()}/"
        for package in ("gallery", "seedream")
        for init in (ROOT / package).rglob("__init__.py")
        if "migrations" not in init.parts and "commands" not in init.parts
    )


def test_every_package_has_a_line_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [name for name in python_packages() if f"| `{name}` |" not in doc]
    assert not missing, f"add a line for each to docs/architecture.md's package table: {missing}"


def test_the_architecture_doc_names_no_package_that_is_gone() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    listed = re.findall(r"^\| `((?:gallery|seedream)/[\w/]*)` \|", doc, re.MULTILINE)
    assert sorted(listed) == python_packages()


def test_the_readme_points_to_the_architecture_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/architecture.md" in readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
