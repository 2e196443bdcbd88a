from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import recovery
from accounts.models import User
from accounts.recovery_serializers import (
    DetailSerializer,
    EmailChangeConfirmSerializer,
    EmailChangeSerializer,
    EmailOnlySerializer,
    EmailVerifySerializer,
    PasswordResetConfirmSerializer,
)
from accounts.recovery_throttles import CodeIPThrottle, ResetEmailThrottle, ResetIPThrottle
from accounts.responses import session_response
from accounts.serializers import AuthResponseSerializer, ProfileSerializer
from flowauth.openapi import ACCESS_CODES, cookie_mode_header, errors
from flowauth.throttles import PasswordChangeThrottle
from tokens.permissions import RecentAuthentication
from tokens.views import NO_STORE, client_info

RESET_SENT = _("If an account has this address, a code is on its way to it.")
VERIFY_SENT = _("If an account with this address awaits verification, a code is on its way to it.")
CHANGE_SENT = _("A code is on its way to the new address.")


class PasswordResetView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ResetIPThrottle, ResetEmailThrottle]

    @extend_schema(
        request=EmailOnlySerializer, responses={202: DetailSerializer, **errors(400, "throttled", "auth_unavailable")}
    )
    def post(self, request):
        serializer = EmailOnlySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recovery.request_password_reset(serializer.validated_data["email"])
        return Response({"detail": RESET_SENT}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CodeIPThrottle]

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        parameters=[cookie_mode_header()],
        responses={200: AuthResponseSerializer, **errors(400, "invalid_code", "throttled", "auth_unavailable")},
    )
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user, pair = recovery.confirm_password_reset(
            email=data.get("email"),
            code=data.get("code"),
            token=data.get("token"),
            new_password=data["new_password"],
            client=client_info(request),
        )
        return session_response(request, user, pair, status.HTTP_200_OK)


class EmailVerifyView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [CodeIPThrottle]

    @extend_schema(
        request=EmailVerifySerializer,
        responses={200: AuthResponseSerializer, **errors(400, "invalid_code", "throttled")},
    )
    def post(self, request):
        serializer = EmailVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = recovery.verify_email(email=data.get("email"), code=data.get("code"), token=data.get("token"))
        return Response({"user": ProfileSerializer(user, context={"request": request}).data}, headers=NO_STORE)


class EmailVerifyResendView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ResetIPThrottle, ResetEmailThrottle]

    @extend_schema(
        request=EmailOnlySerializer, responses={202: DetailSerializer, **errors(400, "throttled", "auth_unavailable")}
    )
    def post(self, request):
        serializer = EmailOnlySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recovery.request_verification(serializer.validated_data["email"])
        return Response({"detail": VERIFY_SENT}, status=status.HTTP_202_ACCEPTED)


class EmailChangeView(APIView):
    # The contract's step-up operation: a login older than REAUTH_MAX_AGE is 403 reauth_required.
    permission_classes = [IsAuthenticated, RecentAuthentication]
    throttle_classes = [PasswordChangeThrottle]  # the current password is a guess like a login's

    @extend_schema(
        request=EmailChangeSerializer,
        responses={
            202: DetailSerializer,
            **errors(400, 403, *ACCESS_CODES, "reauth_required", "email_taken", "throttled"),
        },
    )
    def post(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        serializer = EmailChangeSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        recovery.request_email_change(user, serializer.validated_data["new_email"])
        return Response({"detail": CHANGE_SENT}, status=status.HTTP_202_ACCEPTED)


class EmailChangeConfirmView(APIView):
    throttle_classes = [CodeIPThrottle]

    @extend_schema(
        request=EmailChangeConfirmSerializer,
        responses={200: ProfileSerializer, **errors(400, *ACCESS_CODES, "invalid_code", "email_taken", "throttled")},
    )
    def post(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        serializer = EmailChangeConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = recovery.confirm_email_change(user, serializer.validated_data["code"], client=client_info(request))
        return Response(ProfileSerializer(user, context={"request": request}).data, headers=NO_STORE)
