"""One application error for everything a person asks for and cannot have.

Services raise :class:`ApplicationError` (or a subclass naming its domain) with a message
written for the person and, when it belongs beside one form field, that field's name. Views,
and later the API, turn it into a response in one way: :func:`form_add_error` puts it beside its
field (or at the top of the form), and a page without a form shows ``message`` as a flash.
Nothing sorts errors by their wording.
"""

from __future__ import annotations

from django import forms


class ApplicationError(Exception):
    """A request that cannot be met; ``message`` is for the person, ``field`` names the form
    field it belongs beside (None: the request as a whole)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def form_add_error(form: forms.BaseForm, error: ApplicationError) -> None:
    """Show ``error`` beside its field when the form has one, else among the form's own errors."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
