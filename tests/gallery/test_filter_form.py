"""The gallery's filter form: its widgets remember their HTML per process (issue 15), which
must be the HTML Django's own widgets render, for every value, choice list and error state."""

from __future__ import annotations

import pytest
from django import forms
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from gallery.accounts.models import User
from gallery.browse import forms as browse_forms
from gallery.browse.forms import FilterForm
from gallery.browse.selectors import GalleryFilters
from gallery.browse.views import filter_form, request_filters
from gallery.team.models import Membership, Team

AUTHORS = [("ana", "Ana Lima"), ("bo", "bo")]
COLLECTIONS = [("8d3f0c4e-8a5c-4f5b-9f39-0a0d7c1e2b3a", "Spring <campaign>")]


def _plain(form: FilterForm) -> dict[str, str]:
    """Each field of ``form`` as Django's own widget class renders it."""
    html = {}
    for bound in form:
        widget = bound.field.widget
        plain_class = {
            browse_forms.RememberedSelect: forms.Select,
            browse_forms.RememberedDateInput: forms.DateInput,
            browse_forms.RememberedCheckboxInput: forms.CheckboxInput,
        }.get(type(widget))
        if plain_class is not None:
            plain = plain_class.__new__(plain_class)
            plain.__dict__.update(widget.__dict__)
            bound.field.widget = plain
        html[bound.name] = str(bound)
        bound.field.widget = widget
    return html


def _form(query: str, authors: list[tuple[str, str]] = AUTHORS) -> FilterForm:
    form = FilterForm(QueryDict(query), authors=authors, sizes=["2K"], collections=COLLECTIONS)
    form.filters()
    return form


def test_remembered_widgets_render_what_django_s_widgets_render() -> None:
    browse_forms._RENDERED.clear()
    for query in (
        "",
        "author=ana&status=failed&review=pending&favourites=on",
        f"collection={COLLECTIONS[0][0]}&date_from=2026-03-01&date_to=2026-03-31",
        "author=nobody&status=bogus&date_from=not-a-date&date_to=9999-12-31",  # errors
        "favourites=false&date_from=1800-01-01",
    ):
        for _ in range(2):  # rendered, then remembered
            form = _form(query)
            remembered = {bound.name: str(bound) for bound in form}
            assert remembered == _plain(_form(query)), query


def test_a_remembered_widget_follows_its_value_choices_and_errors() -> None:
    browse_forms._RENDERED.clear()
    anyone = str(_form("")["author"])
    assert "selected" in anyone.split('value="ana"')[0]  # "Anyone" selected
    chosen = str(_form("author=ana")["author"])
    assert 'value="ana" selected' in chosen
    renamed = str(_form("author=ana", [("ana", "Ana Souza"), ("bo", "bo")])["author"])
    assert "Ana Souza" in renamed and "Ana Lima" not in renamed
    wrong = str(_form("date_from=not-a-date")["date_from"])
    assert 'aria-invalid="true"' in wrong and 'value="not-a-date"' in wrong
    assert "aria-invalid" not in str(_form("date_from=2026-01-02")["date_from"])
    assert "Spring &lt;campaign&gt;" in str(_form("")["collection"])


def test_the_remembered_html_is_bounded() -> None:
    browse_forms._RENDERED.clear()
    for day in range(1, 29):
        for month in range(1, 13):
            str(_form(f"date_from=2026-{month:02d}-{day:02d}")["date_from"])
    for year in range(2000, 2003):
        for day in range(1, 366):
            str(_form(f"q=&date_to={year}-01-01&date_from={day}")["date_from"])
    assert len(browse_forms._RENDERED) <= browse_forms._RENDERED_MAX


@pytest.mark.django_db
def test_scroll_and_live_requests_read_the_filters_the_form_reads(team: Team, member: User) -> None:
    """Infinite scroll and live polls skip the form (and its member list) when the query has
    no filter: what they read is what the form would have answered, for every query."""
    membership = Membership.objects.select_related("user", "team").get(user=member, team=team)
    factory = RequestFactory()
    for query in (
        "cursor=1.0_5",
        "since=1.5",
        "cursor=1.0_5&author=&status=&q=&favourites=",
        "cursor=1.0_5&author=member&status=failed",
        "since=1.5&q=fox&favourites=on&date_from=2026-01-02",
        "cursor=1.0_5&author=nobody&date_to=not-a-date",  # malformed: ignored by both
        "cursor=1.0_5&unknown=1",
    ):
        request = factory.get(f"/?{query}")
        assert request_filters(request, membership) == filter_form(request, membership).filters()
    with CaptureQueriesContext(connection) as queries:
        assert request_filters(factory.get("/?cursor=1.0_5"), membership) == GalleryFilters()
    assert queries.captured_queries == []
