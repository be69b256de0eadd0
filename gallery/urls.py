"""The site's URLs: one module per domain, each included at the root (paths are unchanged)."""

from django.contrib import admin
from django.urls import include, path

from gallery import health, pages

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", pages.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("", include("gallery.accounts.urls")),
    path("", include("gallery.api.urls")),  # /api/v1/ and its pages (issue 12)
    path("", include("gallery.browse.urls")),
    path("", include("gallery.budget.urls")),
    path("", include("gallery.collection.urls")),
    path("", include("gallery.generation.urls")),
    path("", include("gallery.media.urls")),
    path("", include("gallery.review.urls")),
    path("", include("gallery.sharing.urls")),
    path("", include("gallery.team.urls")),
]

handler400 = pages.bad_request
handler403 = pages.permission_denied
handler404 = pages.page_not_found
handler500 = pages.server_error
