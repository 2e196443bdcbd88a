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

    class Meta:
        model = Session
        fields = [
            "id", "device_name", "user_agent", "ip_address", "created_at", "last_used_at", "expires_at", "current",
        ]
        read_only_fields = fields

    def get_current(self, session: Session) -> bool:
        return session.pk == self.context["current_session_id"]
