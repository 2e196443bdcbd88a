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

# Account recovery and verification (docs/recovery.md).
from accounts import recovery_views  # noqa: E402

urlpatterns += [
    path("password/reset", recovery_views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/confirm", recovery_views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("email/verify", recovery_views.EmailVerifyView.as_view(), name="email-verify"),
    path("email/verify/resend", recovery_views.EmailVerifyResendView.as_view(), name="email-verify-resend"),
    path("profile/email", recovery_views.EmailChangeView.as_view(), name="profile-email"),
    path("profile/email/confirm", recovery_views.EmailChangeConfirmView.as_view(), name="profile-email-confirm"),
]
