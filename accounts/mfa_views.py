"""Second factors and step-up over HTTP (docs/mfa.md).

Enrolment, removal and new recovery codes need a recent authentication
(RecentAuthentication: 403 ``reauth_required``). The second step of a login
is counted twice: as one of its mfa_token's tries and against the account's
login throttle (the first step's own counter), so guesses at the second step
cost the same budget as password guesses.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import login as django_login
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import mfa, services
from accounts.models import User, normalize_email
from accounts.responses import session_response
from accounts.serializers import PasswordField, ProfileSerializer
from flowauth.errors import InvalidCode, InvalidCredentials, MfaRequired
from flowauth.openapi import ACCESS_CODES, cookie_mode_header, errors
from flowauth.throttles import LoginEmailThrottle, LoginIPThrottle, PasswordChangeThrottle
from tokens import cookies, events
from tokens.permissions import RecentAuthentication
from tokens.serializers import TokenPairSerializer
from tokens.services import reauthenticate_session
from tokens.views import NO_STORE, client_info

CODE_MAX_LENGTH = 64
SESSION_AMR_KEY = "_flowauth_amr"  # how a session login (API or admin) was proved, e.g. "pwd otp"


class CodeField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", CODE_MAX_LENGTH)
        super().__init__(**kwargs)


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()


class CodeSerializer(serializers.Serializer):
    code = CodeField()


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class SecondStepSerializer(serializers.Serializer):
    mfa_token = serializers.CharField(max_length=128)
    code = CodeField()


class ReauthSerializer(serializers.Serializer):
    password = PasswordField()
    code = CodeField(required=False)


class SecondStepAccountThrottle(LoginEmailThrottle):
    """The first step's per-account counter (same key), for a second step that names no email."""

    def __init__(self, email: str):
        super().__init__()
        self.email = email

    def get_ident_value(self, request) -> str | None:
        return hashlib.sha256(normalize_email(self.email).encode("utf-8", "surrogatepass")).hexdigest()[:32]


STEP_UP = [IsAuthenticated, RecentAuthentication]
STEP_UP_CODES = (*ACCESS_CODES, "reauth_required")


class TotpView(APIView):
    permission_classes = STEP_UP

    @extend_schema(request=None, responses={200: TotpEnrolmentSerializer, **errors(403, *STEP_UP_CODES)}, tags=["mfa"])
    def post(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        device = mfa.start_enrolment(user)
        body = {"secret": mfa.secret_of(device), "otpauth_uri": device.config_url}
        return Response(body, headers=NO_STORE)

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="Factor removed."), **errors(403, *STEP_UP_CODES)},
        tags=["mfa"],
    )
    def delete(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        mfa.remove_factor(
            user, keep_session_id=request.user.session_id, client_ip=request.META.get("REMOTE_ADDR") or None
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpQrView(APIView):
    """The pending device's otpauth:// URI as an SVG QR code, for the authenticator app's camera."""

    permission_classes = STEP_UP

    @extend_schema(
        responses={
            (200, "image/svg+xml"): OpenApiResponse(description="SVG QR code."),
            **errors(403, *STEP_UP_CODES, "not_found"),
        },
        tags=["mfa"],
    )
    def get(self, request):
        device = mfa.pending_device(get_object_or_404(User, pk=request.user.id, is_active=True))
        if device is None:
            raise NotFound()
        csp = "default-src 'none'; style-src 'unsafe-inline'"  # an image: nothing in it may run
        return HttpResponse(
            mfa.qr_svg(device), content_type="image/svg+xml", headers={**NO_STORE, "Content-Security-Policy": csp}
        )


class TotpConfirmView(APIView):
    permission_classes = STEP_UP
    throttle_classes = [PasswordChangeThrottle]  # a code guess, per account

    @extend_schema(
        request=CodeSerializer,
        responses={200: RecoveryCodesSerializer, **errors(400, 403, *STEP_UP_CODES, "invalid_code")},
        tags=["mfa"],
    )
    def post(self, request):
        serializer = CodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        codes = mfa.confirm_enrolment(
            user,
            serializer.validated_data["code"],
            keep_session_id=request.user.session_id,
            client_ip=request.META.get("REMOTE_ADDR") or None,
        )
        return Response({"recovery_codes": codes}, headers=NO_STORE)


class RecoveryCodesView(APIView):
    permission_classes = STEP_UP

    @extend_schema(
        request=None, responses={200: RecoveryCodesSerializer, **errors(403, *STEP_UP_CODES, "not_found")}, tags=["mfa"]
    )
    def post(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        codes = mfa.regenerate_recovery_codes(
            user, session_id=request.user.session_id, client_ip=request.META.get("REMOTE_ADDR") or None
        )
        if codes is None:
            raise NotFound("There is no second factor to make recovery codes for.")
        return Response({"recovery_codes": codes}, headers=NO_STORE)


def finish_login_step(view, request, *, door: str) -> tuple[User, tuple, dict]:
    """Shared by the API and session doors: validate, throttle per account, check the code."""
    serializer = SecondStepSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    pending = mfa.pending_step(data["mfa_token"], door=door)
    if pending is None:
        raise InvalidCode()
    email = User.objects.filter(pk=pending["user_id"]).values_list("email", flat=True).first()
    if email is None:
        raise InvalidCode()
    throttle = SecondStepAccountThrottle(email)
    if not throttle.allow_request(request, view):
        view.throttled(request, throttle.wait())
    user, amr = mfa.finish_second_step(
        data["mfa_token"],
        pending,
        data["code"],
        ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return user, amr, pending


class LoginMfaView(APIView):
    """The second step of ``POST /api/auth/login`` for a user with a factor."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle]

    @extend_schema(
        request=SecondStepSerializer,
        parameters=[cookie_mode_header()],
        responses={
            200: TokenPairSerializer,
            **errors(400, "invalid_code", "token_invalid", "throttled", "auth_unavailable"),
        },
        tags=["mfa"],
    )
    def post(self, request):
        user, amr, pending = finish_login_step(self, request, door=mfa.API)
        pair = services.start_login_session(
            user,
            client=client_info(request, device_name=pending.get("device_name", "")),
            amr=amr,
        )
        return session_response(request, user, pair, status.HTTP_200_OK)


class SessionLoginMfaView(APIView):
    """The second step of ``POST /api/session/login``: a Django session, CSRF-checked."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle]

    @extend_schema(
        request=SecondStepSerializer,
        responses={200: ProfileSerializer, **errors(400, 403, "invalid_code", "throttled", "auth_unavailable")},
        tags=["browser"],
    )
    def post(self, request):
        cookies.enforce_csrf(request)
        user, amr, _pending = finish_login_step(self, request, door=mfa.SESSION)
        django_login(request._request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        request._request.session[SESSION_AMR_KEY] = " ".join(amr)
        events.record(
            events.Kind.LOGIN_SUCCEEDED,
            user=user,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            details={"door": "session"},
        )
        return Response({"user": ProfileSerializer(user, context={"request": request}).data}, headers=NO_STORE)


def session_second_step(request, user) -> None:
    """For the session door's first step: a user with a factor gets an mfa_token, not a session."""
    if mfa.has_factor(user):
        raise MfaRequired(
            mfa.start_second_step(
                user,
                door=mfa.SESSION,
                ip=request.META.get("REMOTE_ADDR") or None,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        )


class ReauthView(APIView):
    """Step-up in the same session: the password (and a code when the user has a factor) again."""

    throttle_classes = [PasswordChangeThrottle]  # a password guess, per account

    @extend_schema(
        request=ReauthSerializer,
        responses={
            200: TokenPairSerializer,
            **errors(400, *ACCESS_CODES, "invalid_code", "invalid_credentials", "throttled"),
        },
        tags=["mfa"],
    )
    def post(self, request):
        serializer = ReauthSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        if not user.check_password(data["password"]):
            raise InvalidCredentials()
        amr = ("pwd",)
        if mfa.has_factor(user):
            if mfa.verify_code(user, data.get("code")) is None:
                events.record(
                    events.Kind.MFA_FAILED,
                    user=user,
                    session_id=request.user.session_id,
                    ip_address=request.META.get("REMOTE_ADDR") or None,
                )
                raise InvalidCode()
            amr = ("pwd", "otp")
        pair = reauthenticate_session(request.user.session_id, user.pk, amr=amr)
        events.record(
            events.Kind.REAUTHENTICATED,
            user=user,
            actor=user,
            session_id=pair.session.id,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            details={"amr": list(amr)},
        )
        if cookies.requested(request):
            response = Response(cookies.body(pair), headers=NO_STORE)
            cookies.set_pair(response, request, pair)
            return response
        return Response(TokenPairSerializer(pair.as_dict()).data, headers=NO_STORE)
