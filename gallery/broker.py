"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu's filesystem transport creates a message file under its final name and then writes the
bytes; a worker polling the folder can take the file in between, read nothing, and its
consumer dies on the JSON error (kombu#1551). The faster the polling (``polling_interval``,
tuned down for latency), the likelier that is: the reliability campaign hit it within
seconds. Here a message is written and flushed under a name the worker does not look at,
then renamed into place (atomic on POSIX), so a worker only ever sees whole messages; and a
damaged file left by an older version or a power cut is logged and skipped, not fatal.

kombu keeps the filesystem transport's bindings in one class-level state for the whole process,
but writes them to the control folder's exchange files: a second connection to another folder
in the same process then believes its queue is bound, never writes the exchange file, and its
messages go nowhere. Here the state is one per control folder.

``settings.CELERY_BROKER_TRANSPORT`` names :class:`Transport` when ``REDIS_URL`` is unset.
"""

from __future__ import annotations

import logging
import os
import uuid
from time import monotonic
from typing import Any, ClassVar

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    # The signature of filesystem.Channel._put (the stubs' base class has another).
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot and another suffix: the worker's listing never matches it.
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4().hex}.partial")
        with open(partial, "wb") as out:
            out.write(str_to_bytes(dumps(payload)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        while True:
            try:
                return super()._get(queue)
            except ValueError as exc:  # the damaged file was taken off the queue: go on
                logger.error("skipped a damaged message file on queue %s: %s", queue, exc)


class Transport(filesystem.Transport):
    Channel = Channel
    states: ClassVar[dict[str, virtual.BrokerState]] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        folder = os.path.abspath(client.transport_options.get("control_folder", "control"))
        self.state = self.states.setdefault(folder, virtual.BrokerState())
