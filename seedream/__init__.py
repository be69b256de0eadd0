"""Everything about Oxen.ai's hosted inference API for ByteDance Seedream 4.5.

No Django here: the gallery builds a :class:`ClientConfig` from its settings and calls the
:class:`OxenClient`. Contract: ``shared/oxen-api.md``.
"""

from seedream.client import OxenClient
from seedream.config import (
    ClientConfig,
    EventStreamPolicy,
    RetryPolicy,
    Secret,
    Timeouts,
)
from seedream.download import Downloader, DownloadResult
from seedream.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    BadContentError,
    ConflictError,
    ConnectFailedError,
    DownloadError,
    DownloadTimeoutError,
    DownloadTooLargeError,
    FieldProblem,
    InsufficientCreditsError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OxenError,
    PermissionDeniedError,
    RateLimitedError,
    ResultExpiredError,
    SchemaValidationError,
    TransientError,
    UnsafeURLError,
)
from seedream.events import Connected, EventStream
from seedream.responses import (
    CancelResult,
    CompletionEvent,
    GenerationDetail,
    ImageResult,
    ImagesResponse,
    Model,
    Pricing,
    QueuedGeneration,
    QueueGeneration,
    QueueList,
    UploadResult,
)
from seedream.schema import FieldSpec, RequestSchema

__all__ = [
    "AmbiguousSubmitError",
    "AuthenticationError",
    "BadContentError",
    "CancelResult",
    "ClientConfig",
    "CompletionEvent",
    "ConflictError",
    "ConnectFailedError",
    "Connected",
    "DownloadError",
    "DownloadResult",
    "DownloadTimeoutError",
    "DownloadTooLargeError",
    "Downloader",
    "EventStream",
    "EventStreamPolicy",
    "FieldProblem",
    "FieldSpec",
    "GenerationDetail",
    "ImageResult",
    "ImagesResponse",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "MalformedResponseError",
    "Model",
    "NotFoundError",
    "OxenClient",
    "OxenError",
    "PermissionDeniedError",
    "Pricing",
    "QueueGeneration",
    "QueueList",
    "QueuedGeneration",
    "RateLimitedError",
    "RequestSchema",
    "ResultExpiredError",
    "RetryPolicy",
    "SchemaValidationError",
    "Secret",
    "Timeouts",
    "TransientError",
    "UnsafeURLError",
    "UploadResult",
]
