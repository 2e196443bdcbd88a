from django.db import connection
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttles import RefreshIPThrottle
from tokens import revocation, selectors, services
from tokens.exceptions import RevocationStoreUnavailable
from tokens.models import RevokeReason, Session
from tokens.serializers import LogoutRequestSerializer, RefreshRequestSerializer

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def client_info(request, *, device_name: str = "") -> services.ClientInfo:
    return services.ClientInfo(
        device_name=device_name,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )


class RefreshView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RefreshIPThrottle]

    def post(self, request):
        serializer = RefreshRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = services.rotate_refresh(serializer.validated_data["refresh"], client=client_info(request))
        return Response(pair.as_dict(), headers=NO_STORE)


class LogoutView(APIView):
    """Ends the session of the access token used; 204 only once Redis refuses it."""

    def post(self, request):
        LogoutRequestSerializer(data=request.data).is_valid(raise_exception=True)
        session = Session.objects.get(pk=request.user.session_id)
        services.revoke_session(session, reason=RevokeReason.LOGOUT, actor=None)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    def post(self, request):
        services.revoke_all_for_user_id(request.user.id, reason=RevokeReason.LOGOUT_ALL)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WhoAmIView(APIView):
    """What the access token says, checked for revocation: no database query."""

    def get(self, request):
        token = request.auth
        return Response({
            "user_id": token["user_id"],
            "session_id": request.user.session_id,
            "expires_at": token["exp"],
        })


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        # A hung Redis costs one socket timeout here: nothing else asks it once ping failed.
        redis_ok = revocation.ping()
        database_ok, stats = self._database(redis_ok)
        body = {
            "status": "ok" if redis_ok and database_ok else "unavailable",
            "redis": "connected" if redis_ok else "unavailable",
            "database": "connected" if database_ok else "unavailable",
            "sessionStats": stats,
        }
        if redis_ok:
            warnings = []
            policy = body["redisEvictionPolicy"] = revocation.eviction_policy()
            if policy not in (None, "noeviction"):
                warnings.append(f"maxmemory-policy is {policy}: revocation keys may be evicted")
            evicted = body["redisEvictedKeys"] = revocation.evicted_keys()
            if evicted:
                warnings.append(f"Redis has evicted {evicted} keys: run rebuild_revocation_cache")
            if warnings:
                body["warnings"] = warnings
            try:
                revocation.ensure_complete()
            except RevocationStoreUnavailable:
                body["status"] = "unavailable"
        code = status.HTTP_200_OK if body["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status=code, headers={"Cache-Control": "no-store"})

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
