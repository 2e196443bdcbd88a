"""Session login: Django's session framework for browsers that want it.

The session lives in Redis (SESSION_ENGINE is the cache backend on
django-redis), so every server sees it; the cookie holds only its id.
"""

from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import mfa_views, services
from accounts.serializers import EmailAddressField, PasswordField, ProfileSerializer
from flowauth.openapi import errors
from flowauth.throttles import LoginEmailThrottle, LoginIPThrottle
from tokens import cookies
from tokens.authentication import DjangoSessionAuthentication
from tokens.views import NO_STORE


class SessionLoginRequestSerializer(serializers.Serializer):
    email = EmailAddressField()
    password = PasswordField()


class SessionLoginResponseSerializer(serializers.Serializer):
    user = ProfileSerializer()


class CsrfTokenSerializer(serializers.Serializer):
    csrf_token = serializers.CharField()


class CsrfTokenView(APIView):
    """Hands the browser a CSRF token (also set as the ``csrftoken`` cookie)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: CsrfTokenSerializer}, tags=["browser"])
    def get(self, request):
        return Response({"csrf_token": get_token(request._request)}, headers=NO_STORE)


class SessionLoginView(APIView):
    """Logs in with a Django session; CSRF-checked (login CSRF), session id rotated.

    Throttled with the API login's own counters: one budget per account and client.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    @extend_schema(
        request=SessionLoginRequestSerializer,
        responses={
            200: SessionLoginResponseSerializer,
            **errors(400, 403, "invalid_credentials", "mfa_required", "throttled", "auth_unavailable"),
        },
        tags=["browser"],
    )
    def post(self, request):
        cookies.enforce_csrf(request)
        serializer = SessionLoginRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.authenticate_user(request=request, email=data["email"], password=data["password"])
        mfa_views.session_second_step(request, user)  # 401 mfa_required for a user with a factor
        django_login(request._request, user)  # new session id and new CSRF token
        body = {"user": ProfileSerializer(user, context={"request": request}).data}
        return Response(body, headers=NO_STORE)


class SessionLogoutView(APIView):
    """Flushes the Django session from Redis and expires its cookie."""

    authentication_classes = [DjangoSessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        tags=["browser"],
        responses={204: OpenApiResponse(description="Session ended."), **errors(403, "not_authenticated")},
    )
    def post(self, request):
        django_logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
