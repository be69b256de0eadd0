"""Media, access-checked: thumbnails under their content hash (cached for a year), originals,
references, and the signed reference URLs Oxen fetches."""

from django.urls import path, re_path

from gallery.media import views

urlpatterns = [
    re_path(
        r"^media/t/(?P<public_id>[0-9a-f-]{36})/(?P<sha256>[0-9a-f]{64})-(?P<width>[0-9]{1,5})\.webp$",
        views.thumbnail,
        name="media-thumbnail",
    ),
    path("media/i/<uuid:public_id>/original/", views.original, name="media-original"),
    path("media/r/<uuid:public_id>/", views.reference, name="reference-media"),
    path("media/r/<uuid:public_id>/thumb/", views.reference_thumb, name="reference-thumb"),
    path("r/<str:token>/", views.reference_public, name="reference-public"),
]
