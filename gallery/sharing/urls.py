"""Shared links: the members' pages and the public pages a link opens."""

from django.urls import path

from gallery.sharing import views

urlpatterns = [
    path("links/", views.links, name="share-links"),
    path("links/new/", views.link_new, name="share-link-new"),
    path("links/<uuid:public_id>/", views.link_detail, name="share-link"),
    path("links/<uuid:public_id>/edit/", views.link_edit, name="share-link-edit"),
    path("links/<uuid:public_id>/revoke/", views.link_revoke, name="share-link-revoke"),
    path("links/thumbs/<uuid:public_id>/", views.member_thumb, name="share-member-thumb"),
    path("links/<uuid:public_id>/picks.zip", views.link_picks_zip, name="share-link-picks-zip"),
    path(
        "links/<uuid:public_id>/feedback.csv",
        views.link_feedback_csv,
        name="share-link-feedback-csv",
    ),
    path("s/<str:token>/", views.shared, name="shared"),
    path("s/<str:token>/proofing/name/", views.shared_proof_name, name="shared-proof-name"),
    path(
        "s/<str:token>/proofing/<uuid:public_id>/pick/",
        views.shared_proof_pick,
        name="shared-proof-pick",
    ),
    path(
        "s/<str:token>/proofing/<uuid:public_id>/comment/",
        views.shared_proof_comment,
        name="shared-proof-comment",
    ),
    path(
        "s/<str:token>/i/<uuid:public_id>/<str:variant>/",
        views.shared_media,
        name="shared-media",
    ),
]
