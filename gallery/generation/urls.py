"""Generating, reference uploads, and the buttons that act on a generation or a request."""

from django.urls import path

from gallery.generation import views

urlpatterns = [
    path("generate/", views.generate, name="generate"),
    path("references/upload/", views.reference_upload_view, name="reference-upload"),
    path("references/library/", views.reference_library_view, name="reference-library"),
    path("items/<uuid:public_id>/cancel/", views.cancel, name="generation-cancel"),
    path("items/<uuid:public_id>/retry/", views.retry, name="generation-retry"),
    path("items/<uuid:public_id>/approve/", views.approve, name="generation-approve"),
    path("items/<uuid:public_id>/decline/", views.decline, name="generation-decline"),
    path(
        "images/<uuid:public_id>/use-as-reference/",
        views.use_as_reference,
        name="image-use-as-reference",
    ),
    path("requests/<uuid:public_id>/rerun/", views.rerun, name="request-rerun"),
]
