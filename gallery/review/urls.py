"""The staff review queue, its media, and the members' flag button."""

from django.urls import path

from gallery.review import views

urlpatterns = [
    path("review/", views.queue, name="review-queue"),
    path("review/<uuid:public_id>/", views.queue_image, name="review-image"),
    path("review/<uuid:public_id>/decide/", views.decide, name="review-decide"),
    path("review/media/<uuid:public_id>/<str:variant>/", views.image_media, name="review-media"),
    path(
        "review/references/<uuid:public_id>/",
        views.reference_media,
        name="review-reference-media",
    ),
    path("images/<uuid:public_id>/flag/", views.flag, name="image-flag"),
]
