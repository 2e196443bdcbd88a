from rest_framework import serializers

from tokens.models import Session


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, trim_whitespace=False)


class LogoutRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, required=False, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class SessionSerializer(serializers.ModelSerializer):
    """A session as its user sees it in "your devices"."""

    current = serializers.SerializerMethodField()
    bound = serializers.SerializerMethodField(help_text="Bound to a DPoP key (RFC 9449).")

    class Meta:
        model = Session
        fields = [
            "id",
            "device_name",
            "user_agent",
            "ip_address",
            "created_at",
            "last_used_at",
            "expires_at",
            "current",
            "bound",
        ]
        read_only_fields = fields

    def get_current(self, session: Session) -> bool:
        return session.pk == self.context["current_session_id"]

    def get_bound(self, session: Session) -> bool:
        return bool(session.dpop_jkt)


class CookieModeFieldsMixin(serializers.Serializer):
    """In cookie mode the tokens are cookies; the body says when they expire."""

    access_expires_at = serializers.DateTimeField(required=False)
    refresh_expires_at = serializers.DateTimeField(required=False)


class TokenPairResponseSerializer(CookieModeFieldsMixin):
    access = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    refresh = serializers.CharField(required=False, help_text="Absent in cookie mode.")


class WhoAmISerializer(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="The profile's `id`.")
    session_id = serializers.CharField(allow_null=True)
    expires_at = serializers.IntegerField(allow_null=True)


class JWKSerializer(serializers.Serializer):
    """One public key (RFC 7517): RSA keys carry n/e, EC keys crv/x/y, OKP keys crv/x."""

    kty = serializers.ChoiceField(choices=["RSA", "EC", "OKP"])
    kid = serializers.CharField()
    alg = serializers.CharField()
    use = serializers.CharField()
    n = serializers.CharField(required=False)
    e = serializers.CharField(required=False)
    crv = serializers.CharField(required=False)
    x = serializers.CharField(required=False)
    y = serializers.CharField(required=False)


class JWKSSerializer(serializers.Serializer):
    keys = JWKSerializer(many=True)
