from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.serializers import EmailAddressField, PasswordField

CODE_LENGTH = 8
TOKEN_MAX_LENGTH = 200


class CodeField(serializers.CharField):
    """Any string up to a bound: a malformed code is a wrong code (invalid_code), not a field error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)


class EmailOnlySerializer(serializers.Serializer):
    email = EmailAddressField()


class _CodeOrTokenSerializer(serializers.Serializer):
    email = EmailAddressField(required=False)
    code = CodeField(required=False)
    token = CodeField(required=False, max_length=TOKEN_MAX_LENGTH)

    def validate(self, attrs):
        if "token" in attrs:
            return attrs
        missing = {name: ["This field is required."] for name in ("email", "code") if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class PasswordResetConfirmSerializer(_CodeOrTokenSerializer):
    new_password = PasswordField()


class EmailVerifySerializer(_CodeOrTokenSerializer):
    pass


class EmailChangeSerializer(serializers.Serializer):
    new_email = EmailAddressField(validate_format=True)
    current_password = PasswordField()

    def validate_current_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The current password is incorrect.")
        return value


class EmailChangeConfirmSerializer(serializers.Serializer):
    code = CodeField()


def password_errors(password: str, user) -> list[str]:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        return list(exc.messages)
    return []


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
