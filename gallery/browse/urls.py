"""The team's gallery: grid (the home page), detail, tiles, compare, favourites, bulk actions."""

from django.urls import path

from gallery.browse import views

urlpatterns = [
    path("", views.home, name="home"),
    path("items/<uuid:public_id>/", views.detail, name="gallery-detail"),
    path("items/<uuid:public_id>/tile/", views.tile, name="gallery-tile"),
    path("items/<uuid:public_id>/live/", views.item_live, name="gallery-item-live"),
    path("live/", views.live, name="gallery-live"),
    path("images/<uuid:public_id>/favourite/", views.favourite, name="image-favourite"),
    path("compare/", views.compare, name="gallery-compare"),
    path("bulk/", views.bulk_action, name="gallery-bulk"),
]
