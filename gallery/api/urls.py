"""The JSON API at ``/api/v1/`` (one ``NinjaAPI``: token or session auth, problem details,
each domain's router) and the pages that manage it: API tokens and webhooks."""

from __future__ import annotations

from typing import Any

from django.urls import path
from ninja import NinjaAPI, Swagger

from gallery.api import views
from gallery.api.api import router as webhooks_router
from gallery.api.auth import BearerAuth, SessionCsrfAuth
from gallery.api.problems import HANDLERS, problem_media_types
from gallery.browse.api import router as images_router
from gallery.generation.api import references_router
from gallery.generation.api import router as generations_router
from gallery.review.api import router as review_router
from gallery.sharing.api import router as sharing_router
from gallery.team.api import router as team_router


class GalleryAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return problem_media_types(document)


api = GalleryAPI(
    title="Seedream Gallery API",
    version="1",
    description=(
        "Everything the gallery's pages do, for scripts. Authenticate with a personal access "
        "token (`Authorization: Bearer sg_…`, made on the API tokens page); errors are RFC 9457 "
        "problem details. See docs/api.md."
    ),
    auth=[BearerAuth(), SessionCsrfAuth()],
    urls_namespace="api",
    docs_url="/docs",
    # Swagger UI from ninja's own static files (no CDN); no call to validator.swagger.io.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
    openapi_url="/openapi.json",
)
for exception, handler in HANDLERS:
    api.add_exception_handler(exception, handler)
api.add_router("", generations_router)
api.add_router("", references_router)
api.add_router("", images_router)
api.add_router("", review_router)
api.add_router("", sharing_router)
api.add_router("", team_router)
api.add_router("", webhooks_router)

urlpatterns = [
    path("api/v1/", api.urls),
    path("account/api-tokens/", views.token_list, name="api-tokens"),
    path(
        "account/api-tokens/<uuid:public_id>/revoke/", views.token_revoke, name="api-token-revoke"
    ),
    path("team/webhooks/", views.webhook_list, name="webhooks"),
    path("team/webhooks/<uuid:public_id>/", views.webhook_detail, name="webhook-detail"),
    path(
        "team/webhooks/deliveries/<uuid:public_id>/resend/",
        views.webhook_resend,
        name="webhook-resend",
    ),
]
