from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import avatars, profile_cache, services
from accounts.models import User
from accounts.throttles import LoginEmailThrottle, LoginIPThrottle, RegisterIPThrottle
from accounts.serializers import (
    AvatarSerializer,
    AvatarUploadSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    ProfileSerializer,
    RegisterSerializer,
)
from tokens.serializers import TokenPairSerializer
from tokens.services import TokenPair, issue_session
from tokens.views import NO_STORE, client_info


def _session_response(
    user: User, request, status_code: int, device_name: str = "", pair: TokenPair | None = None
) -> Response:
    pair = pair or issue_session(user, client=client_info(request, device_name=device_name))
    body = {"user": ProfileSerializer(user, context={"request": request}).data, **pair.as_dict()}
    return Response(body, status=status_code, headers=NO_STORE)


class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterIPThrottle]

    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return _session_response(user, request, status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user, pair = services.user_login(
            request=request, email=data["email"], password=data["password"],
            client=client_info(request, device_name=data["device_name"]),
        )
        return _session_response(user, request, status.HTTP_200_OK, pair=pair)


class ProfileView(APIView):
    """The signed-in user's profile; the only accounts view that loads the user."""

    def get_object(self) -> User:
        return get_object_or_404(User, pk=self.request.user.id, is_active=True)

    def get(self, request):
        profile = profile_cache.get(request.user.id)
        if profile is None:
            profile = ProfileSerializer(self.get_object(), context={"request": request}).data
            profile_cache.put(request.user.id, profile)
        return Response(profile)

    def put(self, request):
        return self._update(request, partial=False)

    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        user = self.get_object()
        serializer = ProfileSerializer(user, data=request.data, partial=partial, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.user_update_profile(user=user, data=serializer.validated_data)
        profile_cache.invalidate(user.pk)
        return Response(ProfileSerializer(user, context={"request": request}).data)


class PasswordChangeView(APIView):
    """New password: every session ends, this device continues on a fresh one."""

    serializer_class = PasswordChangeSerializer

    @extend_schema(request=PasswordChangeSerializer, responses=TokenPairSerializer)
    def put(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        serializer = PasswordChangeSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        pair = services.user_change_password(
            user=user, new_password=serializer.validated_data["new_password"],
            current_session_id=request.user.session_id, client=client_info(request),
        )
        return Response(TokenPairSerializer(pair.as_dict()).data, headers=NO_STORE)


class AvatarView(APIView):
    serializer_class = AvatarUploadSerializer

    @extend_schema(request={"multipart/form-data": AvatarUploadSerializer}, responses=AvatarSerializer)
    def post(self, request):
        serializer = AvatarUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = avatars.check_avatar(serializer.validated_data["avatar"])
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        services.user_set_avatar(user=user, data=image.data, extension=image.extension)
        avatar_url = request.build_absolute_uri(user.avatar.url)
        return Response(AvatarSerializer({"avatar_url": avatar_url}).data)
