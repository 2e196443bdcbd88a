"""FlowAuth's URLs plus one probe view behind each side's authentication class."""

from django.urls import include, path
from rest_framework.authentication import TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.serializers import ProfileSerializer
from tokens import jwt, revocation
from tokens.authentication import FlowAuthAuthentication


class ProbeView(APIView):
    """A protected endpoint that does not load the user: who the credentials say the caller is."""

    def get(self, request):
        return Response({"user_id": str(request.user.id)})


class WithoutRevocationCheck(FlowAuthAuthentication):
    """Diagnostic only, never a product setting: FlowAuth's class minus its one Redis round trip."""

    def is_revoked(self, token) -> bool:
        return False


class RoundTripEveryRequest(FlowAuthAuthentication):
    """FlowAuth's check as with REVOCATION_LOCAL_CACHE off: one Redis MGET on every request."""

    def is_revoked(self, token) -> bool:
        return revocation._read_verdict(
            session_id=token[jwt.SESSION_CLAIM],
            refresh_jti=token[jwt.PARENT_CLAIM],
            user_id=token[jwt.USER_ID_CLAIM],
            session_start=token.payload.get(jwt.SESSION_START_CLAIM, 0),
        )


class DatabaseProfileView(APIView):
    """The profile as a simplejwt project serves it without a cache: the user row, serialized."""

    authentication_classes = [JWTAuthentication]

    def get(self, request):
        return Response(ProfileSerializer(request.user, context={"request": request}).data)


urlpatterns = [
    path("", include("flowauth.urls")),
    # The project's default classes: FlowAuthAuthentication first.
    path("bench/flowauth", ProbeView.as_view()),
    path("bench/flowauth-without-check", ProbeView.as_view(authentication_classes=[WithoutRevocationCheck])),
    path("bench/flowauth-round-trip", ProbeView.as_view(authentication_classes=[RoundTripEveryRequest])),
    path("bench/stateless", ProbeView.as_view(authentication_classes=[JWTStatelessUserAuthentication])),
    path("bench/simplejwt", ProbeView.as_view(authentication_classes=[JWTAuthentication])),
    path("bench/drf-token", ProbeView.as_view(authentication_classes=[TokenAuthentication])),
    path("bench/simplejwt/profile", DatabaseProfileView.as_view()),
    path("bench/simplejwt/refresh", TokenRefreshView.as_view()),
    path("bench/simplejwt/login", TokenObtainPairView.as_view()),
]
