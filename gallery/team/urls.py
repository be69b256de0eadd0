"""The team page, members, invitations, the team's policy and the team switcher."""

from django.urls import path

from gallery.team import views

urlpatterns = [
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("team/", views.team, name="team"),
    path("team/settings/", views.team_settings, name="team-settings"),
    path("team/invitations/", views.invitation_create, name="invitation-create"),
    path(
        "team/invitations/<uuid:public_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("team/members/", views.member_create, name="member-create"),
    path("team/members/<int:pk>/role/", views.member_role, name="member-role"),
    path("team/members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("join/<str:token>/", views.invitation_accept, name="invitation-accept"),
]
