from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from gallery.views import health, teams

urlpatterns = [
    path("", teams.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("teams/switch/", teams.team_switch, name="team-switch"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("", include("gallery.urls_review_sharing")),
    path("", include("gallery.urls_app")),
]
