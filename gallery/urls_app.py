"""URLs of the gallery itself: grid, detail, compare, generate, team and media."""

from django.urls import path, re_path

from gallery.views import gallery, generate, media, team

urlpatterns = [
    # gallery
    path("items/<uuid:public_id>/", gallery.detail, name="gallery-detail"),
    path("items/<uuid:public_id>/tile/", gallery.tile, name="gallery-tile"),
    path("items/<uuid:public_id>/cancel/", generate.cancel, name="generation-cancel"),
    path("items/<uuid:public_id>/retry/", generate.retry, name="generation-retry"),
    path("images/<uuid:public_id>/favourite/", gallery.favourite, name="image-favourite"),
    path(
        "images/<uuid:public_id>/use-as-reference/",
        generate.use_as_reference,
        name="image-use-as-reference",
    ),
    path("requests/<uuid:public_id>/rerun/", generate.rerun, name="request-rerun"),
    path("compare/", gallery.compare, name="gallery-compare"),
    path("bulk/", gallery.bulk_action, name="gallery-bulk"),
    # generating
    path("generate/", generate.generate, name="generate"),
    path("references/upload/", generate.reference_upload_view, name="reference-upload"),
    # team
    path("team/", team.team, name="team"),
    path("team/invitations/", team.invitation_create, name="invitation-create"),
    path(
        "team/invitations/<uuid:public_id>/revoke/",
        team.invitation_revoke,
        name="invitation-revoke",
    ),
    path("team/members/", team.member_create, name="member-create"),
    path("team/members/<int:pk>/role/", team.member_role, name="member-role"),
    path("team/members/<int:pk>/remove/", team.member_remove, name="member-remove"),
    path("join/<str:token>/", team.invitation_accept, name="invitation-accept"),
    # media: access-checked; thumbnails under their content hash, cached for a year
    re_path(
        r"^media/t/(?P<public_id>[0-9a-f-]{36})/(?P<sha256>[0-9a-f]{64})-(?P<width>[0-9]{1,5})\.webp$",
        media.thumbnail,
        name="media-thumbnail",
    ),
    path("media/i/<uuid:public_id>/original/", media.original, name="media-original"),
    path("media/r/<uuid:public_id>/", media.reference, name="reference-media"),
    path("r/<str:token>/", media.reference_public, name="reference-public"),
]
