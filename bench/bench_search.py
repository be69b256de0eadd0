"""Prompt search at scale (issue 15): a word found only in the oldest 5 % of prompts, against a
common word, with the stored tsvector column and its (team_id, prompt_tsv) GIN index, beside
the query before issue 15 (an expression index on to_tsvector(prompt), recreated for the run).

    .venv/bin/python bench/bench_search.py [--items 100000] [--runs 15] \
        --database-url postgres://postgres@127.0.0.1:5432/bench_search

PostgreSQL only (SQLite has no full-text search here). Fills a fresh database the way
bench/bench_gallery.py does, puts the rare word in the oldest 5 % of the prompts, ANALYZEs,
then times one gallery page of search results (``gallery_page(..., q=...)``: the rows query)
for each word and each query form, alternately, and prints the median, p95 and the plan's top
node. It prints figures; it never passes or fails.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_gallery import _fill  # noqa: E402
from bench.fresh_database import fresh_database  # noqa: E402

RARE, COMMON = "narwhal", "lighthouse"
OLD_INDEX = "generation_request_prompt_fts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", required=True)
    parser.add_argument(
        "--reuse", action="store_true", help="time the database a previous run filled"
    )
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = (
        args.database_url
        if args.reuse
        else fresh_database(args.database_url, prefix="bench-search-")
    )
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery.settings")
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="bench-search-var-")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from gallery.generation.models import GenerationRequest
    from gallery.team.models import Membership

    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: pass --database-url postgres://…")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if args.reuse:
        args.items = GenerationRequest.objects.count()
    else:
        _fill(args.items)
        _skew(args.items)
    filled = time.perf_counter() - started
    _time(args, GenerationRequest, Membership, filled)


def _skew(items: int) -> None:
    from django.db import connection
    from django.db.models import F, Func

    from gallery.generation.models import GenerationRequest

    oldest = list(
        GenerationRequest.objects.order_by("created_at").values_list("pk", flat=True)[: items // 20]
    )
    GenerationRequest.objects.filter(pk__in=oldest).update(
        prompt=Func(F("prompt"), template=f"%(expressions)s || ' with a {RARE}'")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX {OLD_INDEX} ON gallery_generationrequest "
            "USING gin (to_tsvector('english'::regconfig, prompt))"
        )
        cursor.execute("ANALYZE")


def _time(args: argparse.Namespace, GenerationRequest: Any, Membership: Any, filled: float) -> None:
    from django.contrib.postgres.search import SearchQuery, SearchVectorField
    from django.db.models import F, Func

    from gallery.browse import selectors
    from gallery.browse.access import generations_for
    from gallery.browse.selectors import GalleryFilters, gallery_page

    membership = Membership.objects.select_related("team", "user").get(role="owner")

    def before(text: str) -> object:
        """The query before issue 15: the expression, joined through the request."""
        vector = Func(
            F("request__prompt"),
            template="to_tsvector('english'::regconfig, %(expressions)s)",
            output_field=SearchVectorField(),
        )
        queryset = (
            generations_for(membership)
            .annotate(prompt_vector=vector)
            .filter(prompt_vector=SearchQuery(text, config="english", search_type="websearch"))
        )
        return list(
            selectors.gallery_tiles(queryset, membership.user_id).order_by("-created_at", "-id")[
                :61
            ]
        )

    def now(text: str) -> object:
        return gallery_page(membership, filters=GalleryFilters(q=text)).items

    def plan_of(text: str, form: str) -> str:
        if form == "before":
            vector = Func(
                F("request__prompt"),
                template="to_tsvector('english'::regconfig, %(expressions)s)",
                output_field=SearchVectorField(),
            )
            queryset = (
                generations_for(membership)
                .annotate(prompt_vector=vector)
                .filter(prompt_vector=SearchQuery(text, config="english", search_type="websearch"))
            )
        else:
            queryset = selectors.gallery_filter(
                generations_for(membership),
                GalleryFilters(q=text),
                membership.user_id,
                team_id=membership.team_id,
            )
        with selectors.search_plan(GalleryFilters(q=text if form == "now" else "")):
            query = queryset.order_by("-created_at", "-id")[:61]
            plan = query.explain()
            analyzed = query.explain(analyze=True)
        took = [line for line in analyzed.splitlines() if "Execution Time" in line]
        return (
            took[0].strip()
            + " | "
            + " / ".join(
                line.strip().split("  (")[0] for line in plan.splitlines() if "Scan" in line
            )
        )

    cases = {
        f"now: rare ({RARE}, oldest 5 %)": lambda: now(RARE),
        f"now: common ({COMMON})": lambda: now(COMMON),
        f"before: rare ({RARE}, oldest 5 %)": lambda: before(RARE),
        f"before: common ({COMMON})": lambda: before(COMMON),
    }
    for fn in cases.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t) * 1000)
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    print(f"postgresql, {args.items:,} items (filled in {filled:.0f} s), {args.runs} runs each")
    print(f"{'query (one page of 60 results)':44} {'p50':>9} {'p95':>9}")
    for name, values in samples.items():
        ordered = sorted(values)
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        print(f"{name:44} {statistics.median(values):7.1f}ms {p95:7.1f}ms")
    for word in (RARE, COMMON):
        for form in ("now", "before"):
            print(f"plan {form:6} {word:10}: {plan_of(word, form)}")
    print("Target (issue 15): the skewed (rare-in-old) search <= 50 ms at 100k rows.")


if __name__ == "__main__":
    main()
