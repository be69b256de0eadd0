"""Walk the app as its pages link to each other, and list what a person can submit.

Starting from a few pages, :func:`crawl` follows every same-site link (``href``, htmx's
``hx-get``, the live poll's ``data-live``) and records each HTML page with the forms on it
(``<form>`` and htmx's ``hx-post``), their fields and the query parameters the app's own links
carry. The CSP test checks every page it finds; the fuzz test submits odd values to every form
and parameter it finds, so a new page, form or filter is covered as soon as something links
to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

# Not crawled: Django's own admin (not the app's forms), logging out (it would end the walk),
# and media (files, not pages).
SKIP_PREFIXES = ("/admin/", "/accounts/logout/", "/media/", "/static/", "/review/media/")


@dataclass
class Field:
    name: str
    kind: str  # input type, "textarea" or "select"
    value: str = ""
    options: list[str] = field(default_factory=list)
    multiple: bool = False
    checked: bool = False  # a checkbox or radio that is on, an option that is selected
    selected: str | None = None  # a select's selected option


@dataclass
class Form:
    page: str
    method: str  # "get" or "post"
    action: str  # path with any query string
    enctype: str
    fields: list[Field]

    @property
    def path(self) -> str:
        return urlsplit(self.action).path

    def as_submitted(self) -> dict[str, Any]:
        """What a browser sends for this form as the page shows it (no button pressed)."""
        data: dict[str, Any] = {}
        for item in self.fields:
            if item.kind == "submit" or item.kind == "file":
                continue
            if item.kind in ("checkbox", "radio") and not item.checked:
                continue
            if item.kind == "select":
                value = item.selected if item.selected is not None else next(iter(item.options), "")
            elif item.kind in ("checkbox", "radio"):
                value = item.value or "on"
            else:
                value = item.value
            data.setdefault(item.name, []).append(value)
        return {name: values[0] if len(values) == 1 else values for name, values in data.items()}

    def signature(self) -> tuple[str, str, tuple[str, ...]]:
        """Forms with the same method, view and field names are the same form on another object."""
        return (self.method, _shape(self.path), tuple(sorted({f.name for f in self.fields})))


@dataclass
class Page:
    url: str
    status: int
    content_type: str
    html: str
    csp: str


@dataclass
class Site:
    pages: list[Page] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    query_params: set[str] = field(default_factory=set)
    param_pages: dict[str, set[str]] = field(default_factory=dict)  # parameter -> paths using it
    links: set[str] = field(default_factory=set)

    def add_params(self, path: str, names: Iterable[str]) -> None:
        for name in names:
            self.query_params.add(name)
            self.param_pages.setdefault(name, set()).add(path)

    def unique_forms(self) -> list[Form]:
        seen: dict[tuple[str, str, tuple[str, ...]], Form] = {}
        for form in self.forms:
            seen.setdefault(form.signature(), form)
        return list(seen.values())


def _shape(path: str) -> str:
    """A path with its ids replaced, so /items/<a>/ and /items/<b>/ count as one view."""
    parts = []
    for part in path.split("/"):
        if len(part) >= 20 or part.isdigit():
            part = "<id>"
        parts.append(part)
    return "/".join(parts)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None
        self.outside_fields: list[tuple[str, Field]] = []  # inputs with form="<id>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        # data-live: the address the page's live poll (app.js) asks for changes.
        for attr in ("href", "hx-get", "data-live"):
            if attr in a and tag != "link":
                self.links.append(a[attr])
        if tag == "form" or (tag != "form" and "hx-post" in a):
            form = {
                "method": (a.get("method") or ("post" if "hx-post" in a else "get")).lower(),
                "action": a.get("hx-post") or a.get("action", ""),
                "enctype": a.get("enctype", ""),
                "id": a.get("id", ""),
                "fields": [],
            }
            if tag == "form":
                self._form = form
            self.forms.append(form)
        if tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if kind in ("submit", "button", "image", "reset") and tag == "input":
                kind = "submit"
            item = Field(
                name=a["name"], kind=kind, value=a.get("value", ""), checked="checked" in a
            )
            if tag == "button" or kind == "submit":
                item.kind = "submit"
            self._add(item, a.get("form", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = Field(name=a["name"], kind="textarea")
            self._add(self._textarea, a.get("form", ""))
        elif tag == "select" and a.get("name"):
            self._select = Field(name=a["name"], kind="select", multiple="multiple" in a)
            self._add(self._select, a.get("form", ""))
        elif tag == "option" and self._select is not None:
            self._select.options.append(a.get("value", ""))
            if "selected" in a:
                self._select.selected = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def _add(self, item: Field, form_id: str) -> None:
        if form_id:
            self.outside_fields.append((form_id, item))
        elif self._form is not None:
            self._form["fields"].append(item)


def parse(url: str, html: str) -> tuple[list[str], list[Form]]:
    parser = _PageParser()
    parser.feed(html)
    by_id = {form["id"]: form for form in parser.forms if form["id"]}
    for form_id, item in parser.outside_fields:
        if form_id in by_id:
            by_id[form_id]["fields"].append(item)
    forms = [
        Form(
            page=url,
            method=form["method"],
            action=urljoin(url, form["action"] or url),
            enctype=form["enctype"],
            fields=form["fields"],
        )
        for form in parser.forms
    ]
    return [urljoin(url, link) for link in parser.links], forms


def _local(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
        return None
    if not parts.path.startswith("/") or parts.path.startswith(SKIP_PREFIXES):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(get: Callable[[str], Any], start: Iterable[str], *, max_pages: int = 200) -> Site:
    """Breadth-first from ``start`` through ``get(url) -> response`` (a test client's get)."""
    site = Site()
    queue = deque(start)
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    while queue and len(site.pages) < max_pages:
        url = _local(queue.popleft())
        if url is None or url in seen:
            continue
        seen.add(url)
        # A view reached through many ids (every tile, every item) is walked a few times only.
        shape = _shape(urlsplit(url).path)
        shapes[shape] = shapes.get(shape, 0) + 1
        if shapes[shape] > 3:
            continue
        site.links.add(url)
        parts = urlsplit(url)
        site.add_params(parts.path, (name for name, _ in parse_qsl(parts.query)))
        response = get(url)
        content_type = response.get("Content-Type", "")
        html = response.content.decode(errors="replace") if "html" in content_type else ""
        site.pages.append(
            Page(
                url=url,
                status=response.status_code,
                content_type=content_type,
                html=html,
                csp=response.get("Content-Security-Policy", ""),
            )
        )
        if response.status_code in (301, 302, 303) and response.get("Location"):
            queue.append(urljoin(url, response["Location"]))
        if not html:
            continue
        links, forms = parse(url, html)
        site.forms.extend(forms)
        queue.extend(links)
        for form in forms:
            if form.method == "get":
                site.add_params(form.path, (f.name for f in form.fields))
    return site
