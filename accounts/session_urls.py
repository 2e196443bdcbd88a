from django.urls import path

from accounts import session_views

urlpatterns = [
    path("login", session_views.SessionLoginView.as_view(), name="session-login"),
    path("logout", session_views.SessionLogoutView.as_view(), name="session-logout"),
]
