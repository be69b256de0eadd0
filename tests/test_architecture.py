"""The import graph, read with the standard library's ``ast``: data flows one way.

views -> forms -> services -> selectors/access -> models; tasks import services only inside
their bodies (services queue tasks); ``seedream`` imports nothing from ``gallery`` and, outside
its simulator, nothing from Django; only tests, benchmarks and ``python -m seedream.simulator``
(what ``bin/run`` starts without a key) use the simulator, which the production image leaves
out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gallery", "seedream")

# Layers, lowest first; a module may import modules of its own layer or lower ones.
BASE, READ, SERVICE, FORM, VIEW, TOP = range(6)
LAYER_NAMES = ["base", "read", "service", "form", "view", "top"]
BASE_MODULES = {"gallery.access", "gallery.errors", "gallery.tokens", "gallery.models"}
TOP_MODULES = {"gallery.urls", "gallery.admin", "gallery.admin_scope", "gallery.apps"}
VIEW_MODULES = {"gallery.health", "gallery.context_processors", "gallery.templatetags"}
# Modules that wire the rest together and sit outside the layers.
OUTSIDE = {"gallery.settings", "gallery.celery", "gallery.wsgi", "gallery.env", "gallery.logging"}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    top_level: bool  # executed when the module is imported (not in a function, not typing-only)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def _imports(name: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text())
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # typing only: never executed
            nested = top_level and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    targets.append(full if full in known else child.module)
            for target in targets:
                if target.split(".")[0] in PACKAGES or target.startswith("django"):
                    found.append(Import(name, target, child.lineno, top_level))
            visit(child, nested)

    visit(tree, True)
    return found


def all_imports() -> list[Import]:
    modules = source_modules()
    known = set(modules)
    return [imp for name, path in modules.items() for imp in _imports(name, path, known)]


def layer(module: str) -> int | None:
    if module in OUTSIDE or module.startswith(("gallery.management", "gallery.migrations")):
        return None
    if module.startswith("seedream") or module in BASE_MODULES:
        return BASE
    if module in TOP_MODULES:
        return TOP
    if any(module == m or module.startswith(m + ".") for m in VIEW_MODULES):
        return VIEW
    leaf = module.rsplit(".", 1)[-1]
    return {
        "models": BASE,
        "imaging": BASE,  # Pillow only
        "renditions": BASE,  # picks among an image's renditions; no queries of its own
        "access": READ,
        "selectors": READ,
        "forms": FORM,
        "views": VIEW,
        "api": VIEW,  # a domain's JSON API router (issue 12): the view layer, as its pages
        "urls": TOP,
        "admin": TOP,
    }.get(leaf, SERVICE)


def test_no_import_cycles_when_modules_load() -> None:
    graph: dict[str, set[str]] = {}
    for imp in all_imports():
        if imp.top_level and imp.target.split(".")[0] in PACKAGES:
            graph.setdefault(imp.source, set()).add(imp.target)
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert cycles == []


def test_data_flows_one_way_through_the_layers() -> None:
    wrong = []
    for imp in all_imports():
        source, target = layer(imp.source), layer(imp.target)
        if source is None or target is None or not imp.target.startswith("gallery"):
            continue
        if target > source:
            wrong.append(
                f"{imp.source} ({LAYER_NAMES[source]}) imports {imp.target} "
                f"({LAYER_NAMES[target]}), line {imp.line}"
            )
    assert wrong == []


def test_services_queue_tasks_and_tasks_import_services_only_inside_their_bodies() -> None:
    from_tasks = [
        i
        for i in all_imports()
        if i.source == "gallery.tasks" and i.top_level and i.target.startswith("gallery.")
    ]
    assert [i.target for i in from_tasks] == []
    users = {i.source for i in all_imports() if i.target == "gallery.tasks" and i.top_level}
    assert users <= {
        "gallery.generation.create",
        "gallery.generation.retry",
        "gallery.generation.ledger",
        "gallery.generation.listener",
        "gallery.sharing.proofing",
        "gallery.api.webhooks",  # queues webhook deliveries after commit (issue 12)
        "gallery.mail",  # queues emails for the worker after commit
    }


def test_imports_inside_functions_are_only_the_tasks_and_the_system_checks() -> None:
    lazy = {
        i.source
        for i in all_imports()
        if not i.top_level and i.target.startswith(("gallery", "seedream"))
    }
    # gallery.celery loads before Django is set up: its worker-process hook imports inside.
    assert lazy <= {"gallery.tasks", "gallery.apps", "gallery.celery"}


def test_seedream_knows_nothing_of_gallery_or_django_outside_its_simulator() -> None:
    wrong = [
        f"{i.source} imports {i.target}"
        for i in all_imports()
        if i.source.startswith("seedream")
        and (
            i.target.startswith("gallery")
            or (i.target.startswith("django") and not i.source.startswith("seedream.simulator"))
        )
    ]
    assert wrong == []


def test_only_tests_benchmarks_and_the_run_command_use_the_simulator() -> None:
    users = {
        i.source
        for i in all_imports()
        if i.target.startswith("seedream.simulator") and not i.source.startswith("seedream.sim")
    }
    assert users == set()
    procfile = (ROOT / "Procfile").read_text()
    assert "python -m seedream.simulator" in procfile  # bin/run, without a key
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "seedream.simulator" not in compose


def test_the_production_image_leaves_the_simulator_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "seedream/simulator" in ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . " not in dockerfile  # whole-tree copies would need the ignore list only


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("gallery.generation.models", BASE),
        ("gallery.generation.access", READ),
        ("gallery.generation.submit", SERVICE),
        ("gallery.generation.forms", FORM),
        ("gallery.generation.views", VIEW),
        ("gallery.generation.urls", TOP),
    ],
)
def test_layers_are_read_from_module_names(module: str, expected: int) -> None:
    assert layer(module) == expected
