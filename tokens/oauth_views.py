"""POST /api/auth/revoke (RFC 7009) and POST /api/auth/introspect (RFC 7662).

Both take form-encoded bodies (the RFCs') or JSON. A missing ``token`` is
400 ``invalid_request`` with RFC 6749's ``error`` beside DRF's ``detail``.
"""

import base64
import binascii
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from flowauth.errors import REALM, InsufficientScope, InvalidClient, InvalidRequest
from flowauth.openapi import ACCESS_CODES, errors
from flowauth.throttles import IntrospectRateThrottle, RevokeRateThrottle
from tokens import oauth
from tokens.authentication import DjangoSessionAuthentication, FlowAuthAuthentication
from tokens.views import NO_STORE


class TokenRequestSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=8192, trim_whitespace=False)
    token_type_hint = serializers.CharField(max_length=64, required=False)


class IntrospectionSerializer(serializers.Serializer):
    active = serializers.BooleanField()
    sub = serializers.CharField(required=False)
    user_id = serializers.IntegerField(required=False, help_text="The profile's `id`; `sub` is the same as a string.")
    jti = serializers.CharField(required=False)
    token_type = serializers.ChoiceField(choices=["access", "refresh"], required=False)
    exp = serializers.IntegerField(required=False)
    iat = serializers.IntegerField(required=False)
    sid = serializers.CharField(required=False)
    refresh_jti = serializers.CharField(required=False)


def _token_request(request) -> tuple[str, str | None]:
    serializer = TokenRequestSerializer(data=request.data)
    if not serializer.is_valid():
        raise InvalidRequest()
    return serializer.validated_data["token"], serializer.validated_data.get("token_type_hint")


@dataclass(frozen=True)
class IntrospectionClient:
    """A service that authenticated with INTROSPECTION_CLIENTS credentials."""

    client_id: str
    is_authenticated: bool = True
    is_staff: bool = False
    id = None


class IntrospectionClientAuthentication(BaseAuthentication):
    """HTTP Basic with an ``id:secret`` pair from INTROSPECTION_CLIENTS."""

    def authenticate(self, request):
        scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:  # ValueError: non-ASCII credentials
            raise InvalidClient() from exc
        expected = settings.INTROSPECTION_CLIENTS.get(client_id)
        # Compare against something even for an unknown id: no timing hint.
        if not hmac.compare_digest((expected or "\0").encode(), secret.encode()) or expected is None:
            raise InvalidClient()
        return IntrospectionClient(client_id), None

    def authenticate_header(self, request) -> str:
        return f'Basic realm="{REALM}"'


class CanIntrospect(BasePermission):
    """Service credentials, or a staff user (looked up: access tokens carry no role)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if isinstance(user, IntrospectionClient):
            return True
        if not get_user_model().objects.filter(pk=user.id, is_staff=True, is_active=True).exists():
            raise InsufficientScope()
        return True


class RevokeView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RevokeRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: OpenApiResponse(description="Revoked, or nothing to revoke (same empty body)."),
            **errors("invalid_request", "throttled", "auth_unavailable"),
        },
        tags=["standards"],
    )
    def post(self, request):
        raw, hint = _token_request(request)
        oauth.revoke_token(raw, hint=hint)
        return Response(status=200, headers=NO_STORE)


class IntrospectView(APIView):
    authentication_classes = [FlowAuthAuthentication, IntrospectionClientAuthentication, DjangoSessionAuthentication]
    permission_classes = [CanIntrospect]
    throttle_classes = [IntrospectRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: IntrospectionSerializer,
            **errors("invalid_request", "invalid_client", "insufficient_scope", "throttled", *ACCESS_CODES),
        },
        tags=["standards"],
    )
    def post(self, request):
        raw, hint = _token_request(request)
        return Response(oauth.introspect(raw, hint=hint), headers=NO_STORE)
