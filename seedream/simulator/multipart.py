"""``multipart/form-data`` bodies for the simulator's upload route, parsed by python-multipart
(the ``cgi`` module is gone in Python 3.13; Starlette uses the same parser)."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Part:
    """One form field; ``filename`` is set for file parts."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Collector:
    parts: list[Part] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    data: bytearray = field(default_factory=bytearray)
    ended: bool = False

    def header_end(self) -> None:
        self.headers[self.header_name.decode("latin-1").lower()] = self.header_value.decode(
            "utf-8", "replace"
        )
        self.header_name.clear()
        self.header_value.clear()

    def part_end(self) -> None:
        kind, params = parse_options_header(self.headers.get("content-disposition", ""))
        name = params.get(b"name")
        if kind != b"form-data" or name is None:
            raise MultipartError("multipart part without a field name")
        filename = params.get(b"filename")
        self.parts.append(
            Part(
                name=name.decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=self.headers.get("content-type"),
                data=bytes(self.data),
            )
        )
        self.headers, self.data = {}, bytearray()


def parse_form_data(content_type: str, body: bytes) -> list[Part]:
    """Split a multipart/form-data body into its parts, in order."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise MultipartError("Content-Type must be multipart/form-data")
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    collector = _Collector()
    parser = MultipartParser(
        boundary,
        {
            "on_header_field": lambda data, start, end: collector.header_name.extend(
                data[start:end]
            ),
            "on_header_value": lambda data, start, end: collector.header_value.extend(
                data[start:end]
            ),
            "on_header_end": collector.header_end,
            "on_part_data": lambda data, start, end: collector.data.extend(data[start:end]),
            "on_part_end": collector.part_end,
            "on_end": lambda: setattr(collector, "ended", True),
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise MultipartError(f"malformed multipart body: {exc}") from None
    if not collector.ended:
        raise MultipartError("multipart body is not terminated by the closing boundary")
    return collector.parts
