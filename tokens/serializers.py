from rest_framework import serializers


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, trim_whitespace=False)


class LogoutRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, required=False, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class CookieModeFieldsMixin(serializers.Serializer):
    """In cookie mode the tokens are cookies; the body says when they expire."""

    access_expires_at = serializers.DateTimeField(required=False)
    refresh_expires_at = serializers.DateTimeField(required=False)


class TokenPairResponseSerializer(CookieModeFieldsMixin):
    access = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    refresh = serializers.CharField(required=False, help_text="Absent in cookie mode.")


class WhoAmISerializer(serializers.Serializer):
    user_id = serializers.CharField()
    session_id = serializers.CharField(allow_null=True)
    expires_at = serializers.IntegerField(allow_null=True)


class SessionStatsSerializer(serializers.Serializer):
    activeSessions = serializers.IntegerField(allow_null=True)  # noqa: N815 (API.md's names)
    cachedProfiles = serializers.IntegerField(allow_null=True)  # noqa: N815
    blacklistedTokens = serializers.IntegerField(allow_null=True)  # noqa: N815


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    redis = serializers.CharField(help_text="`connected` or `unavailable`")
    database = serializers.CharField(help_text="`connected` or `unavailable`")
    sessionStats = SessionStatsSerializer()  # noqa: N815
    redisEvictionPolicy = serializers.CharField(required=False, allow_null=True)  # noqa: N815
    warnings = serializers.ListField(child=serializers.CharField(), required=False)
