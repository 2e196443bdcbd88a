from django.urls import path

from accounts import mfa_views, recovery_views, session_views, views

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
# Second factors and step-up (docs/mfa.md).
urlpatterns += [
    path("mfa/totp", mfa_views.TotpView.as_view(), name="mfa-totp"),
    path("mfa/totp/qr", mfa_views.TotpQrView.as_view(), name="mfa-totp-qr"),
    path("mfa/totp/confirm", mfa_views.TotpConfirmView.as_view(), name="mfa-totp-confirm"),
    path("mfa/recovery-codes", mfa_views.RecoveryCodesView.as_view(), name="mfa-recovery-codes"),
    path("login/mfa", mfa_views.LoginMfaView.as_view(), name="login-mfa"),
    path("reauth", mfa_views.ReauthView.as_view(), name="reauth"),
]
# Account recovery and verification (docs/recovery.md).
urlpatterns += [
    path("password/reset", recovery_views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/confirm", recovery_views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("email/verify", recovery_views.EmailVerifyView.as_view(), name="email-verify"),
    path("email/verify/resend", recovery_views.EmailVerifyResendView.as_view(), name="email-verify-resend"),
    path("profile/email", recovery_views.EmailChangeView.as_view(), name="profile-email"),
    path("profile/email/confirm", recovery_views.EmailChangeConfirmView.as_view(), name="profile-email-confirm"),
]
