"""The site's URLs: one module per domain, each included at the root (paths are unchanged)."""

from django.contrib import admin
from django.urls import include, path

from gallery import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("gallery.accounts.urls")),
    path("", include("gallery.browse.urls")),
    path("", include("gallery.generation.urls")),
    path("", include("gallery.media.urls")),
    path("", include("gallery.review.urls")),
    path("", include("gallery.sharing.urls")),
    path("", include("gallery.team.urls")),
]
