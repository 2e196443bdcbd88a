from django.contrib.auth import logout as django_logout
import redis
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttles import RefreshIPThrottle
from tokens import cookies, django_sessions, dpop, jwt, keys, revocation, selectors, services
from tokens.exceptions import RevocationStoreUnavailable
from tokens.models import RevokeReason, Session
from tokens.settings import token_settings
from flowauth.openapi import ACCESS_CODES, cookie_mode_header, errors
from tokens.serializers import (
    HealthSerializer,
    JWKSSerializer,
    LogoutRequestSerializer,
    RefreshRequestSerializer,
    TokenPairResponseSerializer,
    WhoAmISerializer,
)

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
        request=RefreshRequestSerializer, parameters=[cookie_mode_header()],
        description="In cookie mode the body may be empty: the refresh cookie is read (CSRF-checked).",
        responses={200: TokenPairResponseSerializer,
                   **errors(400, 403, "token_expired", "token_invalid", "session_revoked", "refresh_reused",
                            "throttled", "auth_unavailable")},
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

    @extend_schema(request=LogoutRequestSerializer, parameters=[cookie_mode_header()],
                   responses={204: ENDED, **errors(400, 403, *ACCESS_CODES)})
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

    @extend_schema(request=None, parameters=[cookie_mode_header()],
                   responses={204: ENDED, **errors(403, *ACCESS_CODES)})
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

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Every other credential ended."),
                                            **errors(403, *ACCESS_CODES)})
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
        return Response({
            "user_id": jwt.user_id_value(token["user_id"]),
            "session_id": request.user.session_id,
            "expires_at": token["exp"],
        })


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: HealthSerializer,
                              503: OpenApiResponse(HealthSerializer, description="Redis or the database is down.")})
    def get(self, request):
        # A hung Redis costs one socket timeout here: nothing else asks it once INFO failed.
        state = self._redis_server()
        redis_ok = state is not None
        database_ok, stats = self._database(redis_ok)
        body = {
            "status": "ok" if redis_ok and database_ok else "unavailable",
            "redis": "connected" if redis_ok else "unavailable",
            "database": "connected" if database_ok else "unavailable",
            "sessionStats": stats,
        }
        if redis_ok:
            self._report_redis(body, state)
        code = status.HTTP_200_OK if body["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status=code, headers={"Cache-Control": "no-store"})

    def _redis_server(self):
        """The Redis server's state, read now (one INFO), or None when it does not answer."""
        try:
            return revocation.refresh_server_state()
        except redis.RedisError:
            return None

    def _report_redis(self, body: dict, state) -> None:
        body["redisEvictionPolicy"], body["redisEvictedKeys"] = state.policy, state.evicted_keys
        warnings = []
        if state.may_evict:
            warnings.append(f"maxmemory-policy is {state.policy} with maxmemory set: revocation keys may be "
                            "evicted, so the revocation cache is not trusted (set noeviction)")
        elif state.policy != "noeviction":
            warnings.append(f"maxmemory-policy is {state.policy}: harmless while maxmemory is 0, set noeviction")
        if state.evicted_keys:
            warnings.append(f"Redis has evicted {state.evicted_keys} keys since it started")
        if warnings:
            body["warnings"] = warnings
        try:
            revocation.ensure_complete(state)
        except RevocationStoreUnavailable:
            body["status"] = "unavailable"

    def _database(self, redis_ok: bool):
        from accounts.profile_cache import cached_profiles_count

        cached = cached_profiles_count() if redis_ok else None
        stats = {"activeSessions": None, "cachedProfiles": cached, "blacklistedTokens": None}
        try:
            connection.ensure_connection()
            stats["activeSessions"] = selectors.live_sessions_count()
            stats["blacklistedTokens"] = selectors.guarded_revocations_count()
        except Exception:  # any database failure is reported, not raised
            return False, stats
        return True, stats


class JWKSView(APIView):
    """The public keys that verify FlowAuth's tokens (RFC 7517); empty under HS256."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: JWKSSerializer})
    def get(self, request):
        document = jwt.get_keyset().jwks() if keys.is_asymmetric(token_settings.ALGORITHM) else {"keys": []}
        return Response(document, headers={"Cache-Control": f"public, max-age={token_settings.JWKS_MAX_AGE}"})
