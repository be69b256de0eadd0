"""Collections: the list, one collection's page, and its forms."""

from django.urls import path

from gallery.collection import views

urlpatterns = [
    path("collections/", views.collections, name="collections"),
    path("collections/new/", views.collection_new, name="collection-new"),
    path("collections/add/", views.collection_add, name="collection-add"),
    path("collections/tray/", views.collection_tray, name="collection-tray"),
    path("collections/<uuid:public_id>/", views.collection_detail, name="collection"),
    path("collections/<uuid:public_id>/edit/", views.collection_edit, name="collection-edit"),
    path("collections/<uuid:public_id>/delete/", views.collection_delete, name="collection-delete"),
    path("collections/<uuid:public_id>/remove/", views.collection_remove, name="collection-remove"),
    path("collections/<uuid:public_id>/move/", views.collection_move, name="collection-move"),
    path("collections/<uuid:public_id>/cover/", views.collection_cover, name="collection-cover"),
]
