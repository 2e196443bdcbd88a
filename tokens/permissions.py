"""Step-up: operations that need a recent authentication, not just a live token."""

from django.conf import settings
from django.utils import timezone
from rest_framework.permissions import BasePermission

from flowauth.errors import ReauthRequired


def is_recent(auth_time: int | None) -> bool:
    if type(auth_time) is not int:
        return False
    # getattr: sibling services (ROLE "verifier") use this class without FlowAuth's settings module.
    return timezone.now().timestamp() - auth_time <= getattr(settings, "REAUTH_MAX_AGE", 600)


class RecentAuthentication(BasePermission):
    """The access token's ``auth_time`` lies within REAUTH_MAX_AGE; otherwise 403 ``reauth_required``.

    Put after IsAuthenticated (a missing token stays 401). Refreshing does not
    help: rotation keeps the login's ``auth_time``; ``POST /api/auth/reauth`` does.
    """

    def has_permission(self, request, view) -> bool:
        if not is_recent(getattr(request.user, "auth_time", None)):
            raise ReauthRequired()
        return True


class SecondFactor(BasePermission):
    """The access token's ``amr`` names a second factor ("otp"); otherwise 403 ``reauth_required``.

    For sibling services that demand one: the client then steps up with
    ``POST /api/auth/reauth`` (password and code) and retries.
    """

    def has_permission(self, request, view) -> bool:
        if "otp" not in getattr(request.user, "amr", []):
            raise ReauthRequired()
        return True
