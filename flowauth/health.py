"""GET /api/auth/health: one answer composed of what each app checks.

flowauth/ knows no app: an app registers a contributor (from its
``AppConfig.ready``) that adds its fields to the body and says whether its
part is healthy. The answer is 200 when every part is, 503 otherwise.
"""

from collections.abc import Callable

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

# A contributor adds its fields to the body and returns False when its part is unhealthy.
Contributor = Callable[[dict], bool]
_contributors: dict[Contributor, int] = {}


def register(contributor: Contributor, *, order: int = 0) -> Contributor:
    """Add a part to the health answer; lower ``order`` runs first (later parts may read earlier fields)."""
    _contributors[contributor] = order
    return contributor


def contributors() -> list[Contributor]:
    return sorted(_contributors, key=_contributors.__getitem__)


class SessionStatsSerializer(serializers.Serializer):
    activeSessions = serializers.IntegerField(allow_null=True)  # noqa: N815 (the contract's names)
    cachedProfiles = serializers.IntegerField(allow_null=True)  # noqa: N815
    blacklistedTokens = serializers.IntegerField(allow_null=True)  # noqa: N815


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    redis = serializers.CharField(help_text="`connected` or `unavailable`")
    database = serializers.CharField(help_text="`connected` or `unavailable`")
    sessionStats = SessionStatsSerializer()  # noqa: N815
    redisEvictionPolicy = serializers.CharField(required=False, allow_null=True)  # noqa: N815
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: HealthSerializer,
            503: OpenApiResponse(HealthSerializer, description="Redis or the database is down."),
        }
    )
    def get(self, request):
        body: dict = {"status": "ok", "sessionStats": {}}
        healthy = True
        for contributor in contributors():
            healthy = contributor(body) and healthy
        if not healthy:
            body["status"] = "unavailable"
        code = status.HTTP_200_OK if body["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status=code, headers={"Cache-Control": "no-store"})
