"""Django's admin with its login throttled like every other login pathway.

Wrong staff passwords count against the same per-account and per-client
budgets as ``/api/auth/login`` (flowauth/throttles.py): one policy whatever
the door. Over the limit the admin answers 429 with ``Retry-After``; with the
throttle store down, 503: never unlimited attempts.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.sites import REDIRECT_FIELD_NAME
from django.contrib.auth import login as django_login
from django.contrib.auth.views import LoginView
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from flowauth.errors import AuthUnavailable, retry_after
from flowauth.throttles import AdminLoginEmailThrottle, LoginIPThrottle, refuse_login_attempt


class FlowAuthAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        if request.method == "POST":
            try:
                wait = refuse_login_attempt(request, [LoginIPThrottle(), AdminLoginEmailThrottle()])
            except AuthUnavailable:
                return HttpResponse(
                    "Sign-in is temporarily unavailable; try again shortly.\n",
                    status=503,
                    content_type="text/plain",
                    headers={"Retry-After": str(retry_after())},
                )
            if wait is not None:
                return HttpResponse(
                    f"Too many sign-in attempts; try again in {wait} seconds.\n",
                    status=429,
                    content_type="text/plain",
                    headers={"Retry-After": str(wait)},
                )
            if "mfa_token" in request.POST:
                try:
                    return finish_admin_second_step(self, request, self._login_context(request, extra_context))
                except AuthUnavailable:
                    return HttpResponse(
                        "Sign-in is temporarily unavailable; try again shortly.\n",
                        status=503,
                        content_type="text/plain",
                        headers={"Retry-After": "5"},
                    )
        return self._two_step_login(request, extra_context)

    def has_permission(self, request):
        # MFA_REQUIRED_FOR_STAFF: an admin session must have been proved with a second factor.
        if not super().has_permission(request):
            return False
        return not settings.MFA_REQUIRED_FOR_STAFF or _amr_has_otp(request)

    def _login_context(self, request, extra_context):
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        return context

    def _two_step_login(self, request, extra_context):
        """AdminSite.login with TwoStepAdminLoginView in place of Django's LoginView."""
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        from django.contrib.admin.forms import AdminAuthenticationForm

        request.current_app = self.name
        return TwoStepAdminLoginView.as_view(
            extra_context=self._login_context(request, extra_context),
            authentication_form=self.login_form or AdminAuthenticationForm,
            template_name=self.login_template or "admin/login.html",
        )(request)


# Second factors (docs/mfa.md): the admin's login in two steps, and staff
# without a factor kept out while MFA_REQUIRED_FOR_STAFF is on.

MFA_MISSING = _("Staff accounts need a second factor: add one (POST /api/auth/mfa/totp) and sign in again.")


def _amr_has_otp(request) -> bool:
    from accounts.mfa_views import SESSION_AMR_KEY

    session = getattr(request, "session", None)
    return session is not None and "otp" in str(session.get(SESSION_AMR_KEY, "")).split()


class TwoStepAdminLoginView(LoginView):
    """Django's admin LoginView; a user with a factor gets the code form instead of a session."""

    def form_valid(self, form):
        from accounts import mfa
        from accounts.mfa_views import SESSION_AMR_KEY

        user = form.get_user()
        if mfa.has_factor(user):
            mfa_token = mfa.start_second_step(
                user,
                door=mfa.ADMIN,
                ip=self.request.META.get("REMOTE_ADDR") or None,
                user_agent=self.request.META.get("HTTP_USER_AGENT", ""),
            )
            return second_step_page(
                self.request, self.extra_context, mfa_token=mfa_token, next_url=self.get_redirect_url()
            )
        if settings.MFA_REQUIRED_FOR_STAFF:
            form.add_error(None, MFA_MISSING)
            return self.form_invalid(form)
        response = super().form_valid(form)
        self.request.session[SESSION_AMR_KEY] = "pwd"
        return response


def second_step_page(request, context, *, mfa_token: str = "", next_url: str = "", error: str = "", status=200):
    return TemplateResponse(
        request,
        "admin/flowauth_mfa_login.html",
        {
            **(context or {}),
            "mfa_token": mfa_token,
            "next": next_url,
            "error": error,
        },
        status=status,
    )


def finish_admin_second_step(site, request, context):
    from accounts import mfa
    from accounts.mfa_views import SESSION_AMR_KEY, SecondStepAccountThrottle
    from accounts.models import User
    from flowauth.errors import InvalidCode

    mfa_token, code = request.POST.get("mfa_token", ""), request.POST.get("code", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    refused = _("The code is invalid or has expired.")
    pending = mfa.pending_step(mfa_token, door=mfa.ADMIN)
    email = pending and User.objects.filter(pk=pending["user_id"]).values_list("email", flat=True).first()
    if not email or len(code) > 64:
        return second_step_page(request, context, error=refused, status=400)
    wait = refuse_login_attempt(request, [SecondStepAccountThrottle(email)])
    if wait is not None:
        return HttpResponse(
            f"Too many sign-in attempts; try again in {wait} seconds.\n",
            status=429,
            content_type="text/plain",
            headers={"Retry-After": str(wait)},
        )
    try:
        user, amr = mfa.finish_second_step(
            mfa_token,
            pending,
            code,
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except InvalidCode:
        alive = mfa.pending_step(mfa_token, door=mfa.ADMIN) is not None
        return second_step_page(
            request, context, mfa_token=mfa_token if alive else "", next_url=next_url, error=refused, status=400
        )
    if not user.is_staff:
        return second_step_page(request, context, error=refused, status=400)
    django_login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    request.session[SESSION_AMR_KEY] = " ".join(amr)
    return HttpResponseRedirect(next_url or reverse("admin:index", current_app=site.name))
