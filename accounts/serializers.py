from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers

from accounts.models import User, normalize_email, refused_email_characters

# Long enough for any passphrase, short enough that hashing it is not a DoS.
PASSWORD_MAX_LENGTH = 4096


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


class EmailAddressField(serializers.CharField):
    """An account's address: invisible and control characters refused, then normalised (accounts.models)."""

    default_error_messages = {
        "refused": "Enter a valid email address: invisible and control characters are not allowed.",
    }

    def __init__(self, *, validate_format: bool = False, **kwargs):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)
        if validate_format:
            self.validators.append(EmailValidator())

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if refused_email_characters(value):
            self.fail("refused")
        return normalize_email(value)


def validate_new_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"password": list(exc.messages)}) from exc


class RegisterSerializer(serializers.Serializer):
    email = EmailAddressField(validate_format=True)
    password = PasswordField()
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        validate_new_password(attrs["password"], User(email=attrs["email"], username=attrs["username"]))
        return attrs


class LoginSerializer(serializers.Serializer):
    email = EmailAddressField()
    password = PasswordField()
    device_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ProfileSerializer(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "username", "first_name", "last_name", "avatar_url", "date_joined", "email_verified"]
        read_only_fields = ["id", "email", "avatar_url", "date_joined", "email_verified"]

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
            raise serializers.ValidationError(list(exc.messages)) from exc
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
