"""Django's admin with its login throttled like every other login pathway.

Wrong staff passwords count against the same per-account and per-client
budgets as ``/api/auth/login`` (flowauth/throttles.py): one policy whatever
the door. Over the limit the admin answers 429 with ``Retry-After``; with the
throttle store down, 503: never unlimited attempts.
"""

from django.contrib import admin
from django.http import HttpResponse

from flowauth.throttles import AdminLoginEmailThrottle, LoginIPThrottle, refuse_login_attempt
from flowauth.errors import AuthUnavailable, retry_after


class FlowAuthAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        if request.method == "POST":
            try:
                wait = refuse_login_attempt(request, [LoginIPThrottle(), AdminLoginEmailThrottle()])
            except AuthUnavailable:
                return HttpResponse("Sign-in is temporarily unavailable; try again shortly.\n", status=503,
                                    content_type="text/plain", headers={"Retry-After": str(retry_after())})
            if wait is not None:
                return HttpResponse(f"Too many sign-in attempts; try again in {wait} seconds.\n", status=429,
                                    content_type="text/plain", headers={"Retry-After": str(wait)})
        return super().login(request, extra_context)
