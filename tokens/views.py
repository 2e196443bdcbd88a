from django.contrib.auth import logout as django_logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from flowauth.openapi import ACCESS_CODES, cookie_mode_header, errors
from flowauth.throttles import RefreshIPThrottle
from tokens import cookies, django_sessions, dpop, jwt, keys, services
from tokens.models import RevokeReason, Session
from tokens.serializers import (
    JWKSSerializer,
    LogoutRequestSerializer,
    RefreshRequestSerializer,
    TokenPairResponseSerializer,
    WhoAmISerializer,
)
from tokens.settings import token_settings

ENDED = OpenApiResponse(description="Ended; in cookie mode both token cookies are cleared.")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def client_info(request, *, device_name: str = "") -> services.ClientInfo:
    return services.ClientInfo(
        device_name=device_name,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=request.META.get("REMOTE_ADDR") or None,
        dpop_jkt=dpop.token_request_jkt(request),  # a DPoP proof binds the session it starts (RFC 9449)
    )


class RefreshView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RefreshIPThrottle]

    @extend_schema(
        request=RefreshRequestSerializer,
        parameters=[cookie_mode_header()],
        description="In cookie mode the body may be empty: the refresh cookie is read (CSRF-checked).",
        responses={
            200: TokenPairResponseSerializer,
            **errors(
                400,
                403,
                "token_expired",
                "token_invalid",
                "session_revoked",
                "refresh_reused",
                "throttled",
                "auth_unavailable",
            ),
        },
    )
    def post(self, request):
        from_cookie = "refresh" not in request.data and cookies.refresh_cookie_name() in request.COOKIES
        if from_cookie:
            cookies.enforce_csrf(request)  # the browser sends this cookie by itself
            raw = request.COOKIES[cookies.refresh_cookie_name()]
        else:
            serializer = RefreshRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            raw = serializer.validated_data["refresh"]
        pair = services.rotate_refresh(raw, client=client_info(request))
        if from_cookie or cookies.requested(request):
            response = Response(cookies.body(pair), headers=NO_STORE)
            cookies.set_pair(response, request, pair)
            return response
        return Response(pair.as_dict(), headers=NO_STORE)


class LogoutView(APIView):
    """Ends the session of the access token used; 204 only once Redis refuses it."""

    @extend_schema(
        request=LogoutRequestSerializer,
        parameters=[cookie_mode_header()],
        responses={204: ENDED, **errors(400, 403, *ACCESS_CODES)},
    )
    def post(self, request):
        LogoutRequestSerializer(data=request.data).is_valid(raise_exception=True)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if not isinstance(request.auth, jwt.AccessToken):
            django_logout(request._request)  # a Django session (session login): flush it
            return response
        session = Session.objects.get(pk=request.user.session_id)
        services.revoke_session(session, reason=RevokeReason.LOGOUT, actor=None)
        if cookies.requested(request):
            cookies.clear(response)
        return response


class LogoutAllView(APIView):
    """Ends every credential of the user, this one included: tokens, cookies, session and admin logins."""

    @extend_schema(
        request=None, parameters=[cookie_mode_header()], responses={204: ENDED, **errors(403, *ACCESS_CODES)}
    )
    def post(self, request):
        services.revoke_all_for_user_id(request.user.id, reason=RevokeReason.LOGOUT_ALL)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if not isinstance(request.auth, jwt.AccessToken):
            django_logout(request._request)  # this session login is ended already: clear its cookie too
        if cookies.requested(request):
            cookies.clear(response)
        return response


class LogoutOthersView(APIView):
    """Ends every other credential of the user (sessions, session and admin logins); this one stays."""

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="Every other credential ended."), **errors(403, *ACCESS_CODES)},
    )
    def post(self, request):
        if isinstance(request.auth, jwt.AccessToken):
            keep = request.user.session_id
        else:
            keep = django_sessions.current_id(request._request)
        services.revoke_all_for_user_id(request.user.id, reason=RevokeReason.LOGOUT_OTHERS, keep_session_id=keep)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WhoAmIView(APIView):
    """What the access token says, checked for revocation: no database query."""

    @extend_schema(responses={200: WhoAmISerializer, **errors(*ACCESS_CODES)})
    def get(self, request):
        token = request.auth
        if not isinstance(token, jwt.AccessToken):  # a Django session: no token session
            return Response({"user_id": request.user.id, "session_id": None, "expires_at": None})
        return Response(
            {
                "user_id": jwt.user_id_value(token["user_id"]),
                "session_id": request.user.session_id,
                "expires_at": token["exp"],
            }
        )


class JWKSView(APIView):
    """The public keys that verify FlowAuth's tokens (RFC 7517); empty under HS256."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: JWKSSerializer})
    def get(self, request):
        document = jwt.get_keyset().jwks() if keys.is_asymmetric(token_settings.ALGORITHM) else {"keys": []}
        return Response(document, headers={"Cache-Control": f"public, max-age={token_settings.JWKS_MAX_AGE}"})
