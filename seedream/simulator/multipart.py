"""A small ``multipart/form-data`` parser (the ``cgi`` module is gone in Python 3.13)."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Part:
    """One form field; ``filename`` is set for file parts."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _boundary(content_type: str) -> bytes:
    header = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(
        f"Content-Type: {content_type}\r\n\r\n"
    )
    if header.get_content_type() != "multipart/form-data":
        raise MultipartError("Content-Type must be multipart/form-data")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    return boundary.encode("latin-1")


def _part(raw: bytes) -> Part:
    head, separator, data = raw.partition(b"\r\n\r\n")
    if not separator:
        raise MultipartError("multipart part without a header block")
    headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(
        head + b"\r\n\r\n"
    )
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str):
        raise MultipartError("multipart part without a field name")
    filename = headers.get_param("filename", header="content-disposition")
    content_type = headers.get("content-type")
    return Part(
        name=name,
        filename=filename if isinstance(filename, str) else None,
        content_type=str(content_type) if content_type is not None else None,
        data=data,
    )


def parse_form_data(content_type: str, body: bytes) -> list[Part]:
    """Split a multipart/form-data body into its parts, in order."""
    delimiter = b"--" + _boundary(content_type)
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise MultipartError("multipart body is not terminated by the closing boundary")
    parts = []
    for section in sections[1:-1]:
        # Each part sits between "\r\n" after the delimiter and "\r\n" before the next one.
        if not section.startswith(b"\r\n") or not section.endswith(b"\r\n"):
            raise MultipartError("malformed multipart part")
        parts.append(_part(section[2:-2]))
    return parts
