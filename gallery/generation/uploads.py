"""The per-file upload cap, enforced while the request body is read.

Django has no per-file size limit: ``FILE_UPLOAD_MAX_MEMORY_SIZE`` only decides when a file
spills to disk, so a huge upload would be written out in full before any view could refuse it.
This handler runs first in ``FILE_UPLOAD_HANDLERS``: once a file passes ``UPLOAD_MAX_BYTES`` it
stops passing that file's data on to the handlers that store it, tells them the file was
interrupted (so the temporary file one of them opened is closed and deleted now, not whenever
garbage collection gets to it), and hands the view an empty file whose ``size`` is what
arrived, so the view refuses it with its usual message.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class UploadSizeCapHandler(FileUploadHandler):
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self.over = True
        return None if self.over else raw_data

    def file_complete(self, file_size: int) -> UploadedFile[Any] | None:
        if not self.over:
            return None  # the storing handlers complete the file as usual
        self._discard_partial_file()
        return UploadedFile(
            file=io.BytesIO(b""),
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
        )

    def _discard_partial_file(self) -> None:
        """The handlers after this one stored the file's first chunks (a temporary file, for a
        large one) and will never be asked to complete it: let them free what they hold."""
        handlers = list(getattr(self.request, "upload_handlers", None) or [])
        if self not in handlers:
            return
        for handler in handlers[handlers.index(self) + 1 :]:
            handler.upload_interrupted()
