from django.urls import path

from accounts import mfa_views, session_views

urlpatterns = [
    path("login", session_views.SessionLoginView.as_view(), name="session-login"),
    path("login/mfa", mfa_views.SessionLoginMfaView.as_view(), name="session-login-mfa"),
    path("logout", session_views.SessionLogoutView.as_view(), name="session-logout"),
]
