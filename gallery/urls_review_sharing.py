"""URLs of review (staff queue, flagging) and shared links (members' pages and public pages)."""

from django.urls import path

from gallery.views import review, sharing

urlpatterns = [
    # Review
    path("review/", review.queue, name="review-queue"),
    path("review/<uuid:public_id>/", review.queue_image, name="review-image"),
    path("review/<uuid:public_id>/decide/", review.decide, name="review-decide"),
    path(
        "review/media/<uuid:public_id>/<str:variant>/",
        review.image_media,
        name="review-media",
    ),
    path(
        "review/references/<uuid:public_id>/",
        review.reference_media,
        name="review-reference-media",
    ),
    path("images/<uuid:public_id>/flag/", review.flag, name="image-flag"),
    # Shared links, for members
    path("links/", sharing.links, name="share-links"),
    path("links/new/", sharing.link_new, name="share-link-new"),
    path("links/<uuid:public_id>/revoke/", sharing.link_revoke, name="share-link-revoke"),
    path("links/thumbs/<uuid:public_id>/", sharing.member_thumb, name="share-member-thumb"),
    path("team/settings/", sharing.team_settings, name="team-settings"),
    # Shared links, public
    path("s/<str:token>/", sharing.shared, name="shared"),
    path(
        "s/<str:token>/i/<uuid:public_id>/<str:variant>/",
        sharing.shared_media,
        name="shared-media",
    ),
]
