"""No odd input gives a server error (issue 13, item 7): Hypothesis fills every form and every
query parameter of the app with odd values and no response is a 5xx.

What is fuzzed is found, not listed: the site is walked from its main pages (``tests.crawl``)
as a team owner who is also a reviewer and as a visitor, and every form on every page (GET
filters included) is submitted with generated values; the query parameters are the ones the
app's own links and GET forms carry plus every name the code reads from ``request.GET`` or
``request.POST``, each sent to every page. A new form, filter or page is fuzzed as soon as a
page links to it; a URL pattern that nothing reaches fails the test until it is linked or
listed in ``NOT_FUZZED`` with the reason.

Each submission runs in a transaction that is rolled back, so one example's deletions or
new links never change what the next one sees. ``FUZZ_EXAMPLES`` (per form, default 30) and
``FUZZ_QUERY_EXAMPLES`` (default 300) set the effort; the counts go to
``test-artifacts/fuzz-report.txt``.
"""

from __future__ import annotations

import copy
import os
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import png_bytes
from tests.crawl import Field, Form, crawl, parse
from tests.gallery.conftest import SiteData

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_FORM = int(os.environ.get("FUZZ_EXAMPLES", "30"))
QUERY_EXAMPLES = int(os.environ.get("FUZZ_QUERY_EXAMPLES", "300"))
REPORT = ROOT / "test-artifacts" / "fuzz-report.txt"

# URL patterns no page links to with a form or a parameter, and why.
NOT_FUZZED = {
    "admin": "Django's own admin",
    "api": "the JSON API: schemathesis fuzzes it against its OpenAPI document "
    "(tests/gallery/api/test_schemathesis.py)",
    "logout": "takes no input (and would end the session of the walk)",
    "password_change_done": "a page with no input, shown after a password change",
    "healthz": "takes no input",
    "media-thumbnail": "a file under its content hash; the path is the whole input",
    "media-original": "a file; no input but its id",
    "reference-media": "a file; no input but its id (and ?download, fuzzed on every page)",
    "reference-public": "a file at a signed URL that only Oxen is given",
    "share-member-thumb": "a file; no input but its id",
    "reference-thumb": "a file; no input but its id",
    "review-media": "a file; no input but its id",
    "review-reference-media": "a file; no input but its id",
    "collection-tray": "takes no input: the fragment the gallery's drag script fetches "
    "(tests/gallery/test_collections.py checks who may see it)",
}

ODD_STRINGS = [
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "NaN",
    "inf",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "99999999999999999999999",
    "3650000",
    "\x00",
    "nul\x00byte",
    "'\"<script>alert(1)</script>",
    "%00%2e%2e%2f",
    "../../etc/passwd",
    "00000000-0000-0000-0000-000000000000",
    "on",
    "true",
    "ÿ\ud7ff\U0001f600",
    "x" * 5000,
]
# Numbers at the edges: of the calendar in days, of 32- and 64-bit columns, of timedelta.
EDGE_NUMBERS = [0, -1, 1, 32767, 32768, 2**31, 2**63, 3650000, 10**9, 10**25]
odd_text = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(date.isoformat),
)
odd_number = st.one_of(
    st.sampled_from(EDGE_NUMBERS).map(str),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    odd_text,
)
odd_date = st.one_of(
    st.sampled_from([date.min, date.max, date(1899, 12, 31), date(3000, 1, 1)]).map(date.isoformat),
    st.dates().map(date.isoformat),
    odd_text,
)


def _upload() -> st.SearchStrategy[SimpleUploadedFile]:
    contents = st.one_of(
        st.just(png_bytes((24, 24))),
        st.binary(max_size=512),
        st.just(b""),
        st.binary(max_size=64).map(lambda tail: png_bytes((8, 8))[:40] + tail),  # a cut PNG
    )
    names = st.one_of(st.just("image.png"), st.text(max_size=30))
    types = st.sampled_from(["image/png", "image/jpeg", "text/html", ""])
    return st.builds(
        lambda data, name, kind: SimpleUploadedFile(name or "x", data, kind or "image/png"),
        contents,
        names,
        types,
    )


def field_values(fields: list[Field]) -> st.SearchStrategy[Any]:
    """Odd values for one field name (several fields may share it: radios, checkboxes)."""
    kind = fields[0].kind
    known = [f.value for f in fields if f.value] + [o for f in fields for o in f.options]
    if kind == "file":
        return st.lists(_upload(), max_size=3)
    base = {"number": odd_number, "range": odd_number, "date": odd_date}.get(kind, odd_text)
    one = st.one_of(st.sampled_from(known), base) if known else base
    if len(fields) > 1 or kind == "checkbox" or any(f.multiple for f in fields):
        return st.one_of(one, st.lists(one, max_size=4))
    return one


_LEAVE_OUT = object()


def form_data(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly the form as the page fills it with one to three fields changed or left out (so
    a submission gets past the fields it does not touch); sometimes every field at random."""
    by_name: dict[str, list[Field]] = {}
    for item in form.fields:
        if item.name != "csrfmiddlewaretoken":  # the test client does not check CSRF
            by_name.setdefault(item.name, []).append(item)
    if not by_name:
        return st.just({})
    baseline = form.as_submitted()
    baseline.pop("csrfmiddlewaretoken", None)
    change = st.sampled_from(sorted(by_name)).flatmap(
        lambda name: st.tuples(
            st.just(name), st.one_of(field_values(by_name[name]), st.just(_LEAVE_OUT))
        )
    )

    def mutate(changes: list[tuple[str, Any]]) -> dict[str, Any]:
        data = dict(baseline)
        for name, value in changes:
            if value is _LEAVE_OUT:
                data.pop(name, None)
            else:
                data[name] = value
        return data

    mutated = st.lists(change, min_size=1, max_size=3).map(mutate)
    random_all = st.fixed_dictionaries(
        {}, optional={name: field_values(fields) for name, fields in by_name.items()}
    )
    return st.one_of(mutated, mutated, mutated, random_all)


# The edge cases every field and parameter is tried with, one at a time, besides the random
# examples: Hypothesis may well find them, but a fixed sweep makes sure every run does.
SWEEP_TEXT = ["", "\x00", "x" * 5000, "9999-12-31", "99999999999999999999999", "-1"]
SWEEP_NUMBER = [str(n) for n in EDGE_NUMBERS] + ["1e309", "NaN", "", "x"]
SWEEP_DATE = [date.max.isoformat(), date.min.isoformat(), "2026-02-30", "", "x"]


def sweep_values(kind: str) -> list[Any]:
    if kind == "file":
        return [[SimpleUploadedFile("empty.png", b"", "image/png")]]
    return {"number": SWEEP_NUMBER, "range": SWEEP_NUMBER, "date": SWEEP_DATE}.get(kind, SWEEP_TEXT)


def form_sweep(form: Form) -> list[dict[str, Any]]:
    """The form as the page fills it, with each field in turn set to each edge value or left
    out."""
    baseline = form.as_submitted()
    baseline.pop("csrfmiddlewaretoken", None)
    examples = [dict(baseline)]
    kinds = {f.name: f.kind for f in form.fields if f.name != "csrfmiddlewaretoken"}
    for name, kind in kinds.items():
        left_out = dict(baseline)
        left_out.pop(name, None)
        examples.append(left_out)
        examples += [{**baseline, name: value} for value in sweep_values(kind)]
    return examples


class _RolledBack(Exception):
    def __init__(self, response: Any) -> None:
        super().__init__("rolled back")
        self.response = response


def submit(client: Client, method: str, url: str, data: dict[str, Any], htmx: bool) -> int:
    """One request inside a transaction that is always rolled back, with the client's cookies
    put back afterwards (a login, a team switch or an unlocked link cycles the session, whose
    new row the rollback removes); its status, or an AssertionError naming the request when
    the app raised."""
    headers = {"HX-Request": "true"} if htmx else {}
    cookies = copy.deepcopy(client.cookies)
    try:
        with transaction.atomic():
            if method == "post":
                response = client.post(url, data, headers=headers)
            else:
                response = client.get(url, data, headers=headers)
            raise _RolledBack(response)
    except _RolledBack as done:
        return int(done.response.status_code)
    except Exception as exc:
        shown = {k: (v if not isinstance(v, str) else v[:80]) for k, v in data.items()}
        raise AssertionError(f"{method.upper()} {url} {shown!r} raised {exc!r}") from exc
    finally:
        client.cookies = cookies


def url_names(patterns: list[Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                names.add("admin")
                continue
            if pattern.namespace == "api":
                names.add("api")
                continue
            names |= url_names(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def url_name(url: str) -> str | None:
    try:
        return resolve(urlsplit(url).path).url_name
    except Resolver404:
        return None


def params_read_in_code() -> set[str]:
    """Every query parameter the views read straight from the request (not through a form):
    ``request.GET.get("x")``, ``request.GET.getlist("x")``, ``"x" in request.GET``, and
    ``data.get("x")`` where a view reads GET or POST alike."""
    names: set[str] = set()
    pattern = re.compile(
        r"""(?:request\.GET|\bdata)\.(?:get|getlist)\(\s*"(\w+)"|"(\w+)"\s+in\s+request\.GET"""
    )
    for path in (ROOT / "gallery").rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    return names


def fragment_forms(site_data: SiteData) -> list[Form]:
    """Forms that only htmx fragments or scripts show, so no page links to them yet."""
    image = site_data.images[0]
    history = render_to_string("review/_history.html", {"image": image, "can_flag": True})
    _, flag = parse("/", history)
    upload = Form(
        page="/generate/",  # the drop zone posts here from app.js (data-upload-url)
        method="post",
        action="/references/upload/",
        enctype="multipart/form-data",
        fields=[Field(name="uploads", kind="file")],
    )
    return [*flag, upload]


def test_no_form_or_query_parameter_gives_a_server_error(
    site_data: SiteData, oxen_sim: Any, settings: Any
) -> None:
    owner = site_data.owner_client()
    visitor = Client()
    # A visitor who gave their name on the proofing link sees its pick and comment forms.
    proofer = Client()
    proofer.post(f"/s/{site_data.share_token}/proofing/name/", {"name": "Visitor"})
    proofing_site = crawl(proofer.get, [f"/s/{site_data.share_token}/"])
    member_site = crawl(owner.get, site_data.start_urls())
    public_site = crawl(visitor.get, site_data.public_urls())
    targets = [(owner, form) for form in member_site.unique_forms() + fragment_forms(site_data)]
    # Retry download (a billed image whose download failed) shares the Retry form's view and
    # fields but not its path through the code: fuzzed on its own row too.
    billed = site_data.generations[2]
    retry_download = [f for f in member_site.forms if f.path == f"/items/{billed.public_id}/retry/"]
    assert retry_download, "a page shows the Retry download of a billed, failed image"
    if retry_download[0] not in [form for _, form in targets]:
        targets.append((owner, retry_download[0]))
    targets += [(visitor, form) for form in public_site.unique_forms()]
    targets += [
        (proofer, form) for form in proofing_site.unique_forms() if "/proofing/" in form.action
    ]
    # Every page that answered, with the query the app's own link gave it.
    pages = sorted(
        {page.url for page in member_site.pages + public_site.pages if page.status == 200}
    )
    params = sorted(member_site.query_params | public_site.query_params | params_read_in_code())

    # Everything is reached: each URL pattern by a page, a form or a link, or listed as not.
    reached = {url_name(url) for url in [*pages, *(form.action for _, form in targets)]}
    reached |= {url_name(url) for url in member_site.links | public_site.links}
    unreached = url_names(get_resolver().url_patterns) - reached - set(NOT_FUZZED)
    assert unreached == set(), "link these from a page or list them in NOT_FUZZED"
    assert len(targets) >= 20 and len(params) >= 10

    counts: Counter[str] = Counter()

    def fuzz_form(client: Client, form: Form) -> None:
        def run(data: dict[str, Any], htmx: bool) -> None:
            for value in data.values():
                for upload in value if isinstance(value, list) else [value]:
                    if isinstance(upload, SimpleUploadedFile):
                        upload.seek(0)
            status = submit(client, form.method, form.action, data, htmx)
            counts["requests"] += 1
            counts[f"{status // 100}xx"] += 1
            assert status < 500, f"{form.method.upper()} {form.action} {data!r} -> {status}"

        for case in form_sweep(form):
            run = example(data=case, htmx=False)(run)
        hypothesis_settings(
            max_examples=EXAMPLES_PER_FORM,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )(given(data=form_data(form), htmx=st.booleans())(run))()
        counts["forms"] += 1

    for client, form in targets:
        fuzz_form(client, form)

    query_strategy = dict(
        page=st.sampled_from(pages),
        changes=st.dictionaries(
            st.sampled_from(params),
            st.one_of(odd_text, odd_number, odd_date, st.lists(odd_text, max_size=3)),
            min_size=1,
            max_size=3,
        ),
        anonymous=st.booleans(),
        htmx=st.booleans(),
    )

    def fuzz_query(page: str, changes: dict[str, Any], anonymous: bool, htmx: bool) -> None:
        path, _, own_query = page.partition("?")
        query: dict[str, Any] = {}
        for name, value in parse_qsl(own_query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        query.update(changes)
        status = submit(visitor if anonymous else owner, "get", path, query, htmx)
        counts["requests"] += 1
        counts["query requests"] += 1
        counts[f"{status // 100}xx"] += 1
        assert status < 500, f"GET {page} {query!r} -> {status}"

    # Each parameter with each edge value on the pages that use it (all pages for those only
    # the code names), then at random everywhere.
    used_on: dict[str, set[str]] = {}
    for site in (member_site, public_site):
        for name, paths in site.param_pages.items():
            used_on.setdefault(name, set()).update(paths)
    for name in params:
        chosen = [page for page in pages if urlsplit(page).path in used_on.get(name, set())]
        values = SWEEP_TEXT + SWEEP_DATE[:2] + SWEEP_NUMBER[5:7] if chosen else SWEEP_TEXT[:4]
        for page in chosen or pages:
            for value in values:
                fuzz_query = example(page=page, changes={name: value}, anonymous=False, htmx=False)(
                    fuzz_query
                )
    hypothesis_settings(
        max_examples=QUERY_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(given(**query_strategy)(fuzz_query))()

    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        f"forms fuzzed: {counts['forms']} ({EXAMPLES_PER_FORM} examples each)\n"
        f"pages: {len(pages)}; query parameters: {len(params)} ({', '.join(params)})\n"
        f"requests: {counts['requests']} (query: {counts['query requests']}); "
        f"2xx {counts['2xx']}, 3xx {counts['3xx']}, 4xx {counts['4xx']}, "
        f"server errors (5xx or raised): {counts['5xx']}\n"
    )
    print(REPORT.read_text())
    assert counts["5xx"] == 0
    assert counts["forms"] == len(targets)
