from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import User, normalize_email

# Long enough for any passphrase, short enough that hashing it is not a DoS.
PASSWORD_MAX_LENGTH = 4096


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


def validate_new_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"password": list(exc.messages)})


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = PasswordField()
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def validate_email(self, value: str) -> str:
        return normalize_email(value)

    def validate(self, attrs):
        validate_new_password(attrs["password"], User(email=attrs["email"], username=attrs["username"]))
        return attrs


class LoginSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = PasswordField()
    device_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ProfileSerializer(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "username", "first_name", "last_name", "avatar_url", "date_joined"]
        read_only_fields = ["id", "email", "avatar_url", "date_joined"]

    def get_avatar_url(self, user: User) -> str | None:
        if not user.avatar:
            return None
        request = self.context.get("request")
        url = user.avatar.url
        return request.build_absolute_uri(url) if request else url


class PasswordChangeSerializer(serializers.Serializer):
    current_password = PasswordField()
    new_password = PasswordField()

    def validate_current_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The current password is incorrect.")
        return value

    def validate_new_password(self, value: str) -> str:
        try:
            password_validation.validate_password(value, self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages))
        return value

    def validate(self, attrs):
        # current_password is verified by now: equal strings mean the password would not change.
        if attrs["new_password"] == attrs["current_password"]:
            raise serializers.ValidationError({"new_password": ["The new password must differ from the current one."]})
        return attrs


class AvatarUploadSerializer(serializers.Serializer):
    avatar = serializers.FileField(max_length=255, allow_empty_file=True)


class AvatarSerializer(serializers.Serializer):
    avatar_url = serializers.URLField()
class AuthResponseSerializer(serializers.Serializer):
    """Register and login: the user and a token pair (cookies instead in cookie mode)."""

    user = ProfileSerializer()
    access = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    refresh = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    access_expires_at = serializers.DateTimeField(required=False, help_text="Cookie mode only.")
    refresh_expires_at = serializers.DateTimeField(required=False, help_text="Cookie mode only.")
