from rest_framework import serializers


class RefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, trim_whitespace=False)


class LogoutRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, required=False, trim_whitespace=False)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
