from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import avatars, profile_cache, services
from accounts.models import User
from accounts.responses import session_response
from accounts.serializers import (
    AuthResponseSerializer,
    AvatarSerializer,
    AvatarUploadSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    ProfileSerializer,
    RegisterSerializer,
)
from flowauth.openapi import ACCESS_CODES, cookie_mode_header, errors
from flowauth.throttles import LoginEmailThrottle, LoginIPThrottle, PasswordChangeThrottle, RegisterIPThrottle
from tokens import cookies
from tokens.serializers import TokenPairSerializer
from tokens.services import issue_session
from tokens.views import NO_STORE, client_info


class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterIPThrottle]

    @extend_schema(
        request=RegisterSerializer,
        parameters=[cookie_mode_header()],
        responses={201: AuthResponseSerializer, **errors(400, "email_taken", "throttled", "auth_unavailable")},
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client = client_info(request)  # a bad DPoP proof is refused before the account exists
        user = services.register_user(**serializer.validated_data)
        pair = issue_session(user, client=client)
        return session_response(request, user, pair, status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    @extend_schema(
        request=LoginSerializer,
        parameters=[cookie_mode_header()],
        responses={
            200: AuthResponseSerializer,
            **errors(400, "invalid_credentials", "mfa_required", "throttled", "auth_unavailable"),
        },
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user, pair = services.log_in_user(
            request=request,
            email=data["email"],
            password=data["password"],
            client=client_info(request, device_name=data["device_name"]),
        )
        return session_response(request, user, pair, status.HTTP_200_OK)


class ProfileView(APIView):
    """The signed-in user's profile; the only accounts view that loads the user."""

    def get_object(self) -> User:
        return get_object_or_404(User, pk=self.request.user.id, is_active=True)

    @extend_schema(responses={200: ProfileSerializer, **errors(*ACCESS_CODES, "not_found")})
    def get(self, request):
        profile = profile_cache.get(request.user.id)
        if profile is None:
            profile = ProfileSerializer(self.get_object(), context={"request": request}).data
            profile_cache.put(request.user.id, profile)
        return Response(profile)

    @extend_schema(
        request=ProfileSerializer, responses={200: ProfileSerializer, **errors(400, 403, *ACCESS_CODES, "not_found")}
    )
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(
        request=ProfileSerializer, responses={200: ProfileSerializer, **errors(400, 403, *ACCESS_CODES, "not_found")}
    )
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        user = self.get_object()
        serializer = ProfileSerializer(user, data=request.data, partial=partial, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.update_profile(user=user, data=serializer.validated_data)
        return Response(ProfileSerializer(user, context={"request": request}).data)


class PasswordChangeView(APIView):
    """New password: every session ends, this device continues on a fresh one."""

    serializer_class = PasswordChangeSerializer
    throttle_classes = [PasswordChangeThrottle]  # the current password is a guess like a login's

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer, **errors(400, 403, *ACCESS_CODES, "not_found", "throttled")},
    )
    def put(self, request):
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        serializer = PasswordChangeSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        pair = services.change_password(
            user=user,
            new_password=serializer.validated_data["new_password"],
            current_session_id=getattr(request.user, "session_id", None),
            client=client_info(request),
        )
        if cookies.requested(request):  # the new pair as cookies; no token in the body
            response = Response(cookies.body(pair), headers=NO_STORE)
            cookies.set_pair(response, request, pair)
            return response
        return Response(TokenPairSerializer(pair.as_dict()).data, headers=NO_STORE)


class AvatarView(APIView):
    serializer_class = AvatarUploadSerializer

    @extend_schema(
        request={"multipart/form-data": AvatarUploadSerializer},
        responses={200: AvatarSerializer, **errors(400, 403, *ACCESS_CODES, "not_found")},
    )
    def post(self, request):
        serializer = AvatarUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = avatars.check_avatar(serializer.validated_data["avatar"])
        user = get_object_or_404(User, pk=request.user.id, is_active=True)
        services.set_avatar(user=user, data=image.data, extension=image.extension)
        avatar_url = request.build_absolute_uri(user.avatar.url)
        return Response(AvatarSerializer({"avatar_url": avatar_url}).data)
