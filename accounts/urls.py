from django.urls import path

from accounts import session_views, views

urlpatterns = [
    path("register", views.RegisterView.as_view(), name="register"),
    path("login", views.LoginView.as_view(), name="login"),
    path("profile", views.ProfileView.as_view(), name="profile"),
    path("csrf", session_views.CsrfTokenView.as_view(), name="csrf"),
]
urlpatterns += [
    path("profile/password", views.PasswordChangeView.as_view(), name="profile-password"),
    path("profile/avatar", views.AvatarView.as_view(), name="profile-avatar"),
]
