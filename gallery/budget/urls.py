"""The spend dashboard, its CSV, and the team's budget page."""

from django.urls import path

from gallery.budget import views

urlpatterns = [
    path("spend/", views.spend, name="spend"),
    path("spend/export.csv", views.spend_csv, name="spend-csv"),
    path("team/budget/", views.budget_settings, name="team-budget"),
    path("team/budget/members/", views.member_quota, name="team-member-quota"),
]
