"""The "your devices" API: the signed-in user's live sessions, and ending one of them."""

import re

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from flowauth.openapi import ACCESS_CODES, errors
from tokens import selectors, services
from tokens.models import RevokeReason
from tokens.serializers import SessionSerializer

SESSION_ID = re.compile(r"[0-9a-f]{32}")


class SessionListView(APIView):
    serializer_class = SessionSerializer

    @extend_schema(responses={200: SessionSerializer(many=True), **errors(*ACCESS_CODES)})
    def get(self, request):
        sessions = selectors.live_sessions_for(request.user.id)
        context = {"current_session_id": getattr(request.user, "session_id", None)}
        return Response(SessionSerializer(sessions, many=True, context=context).data)


class SessionDetailView(APIView):
    serializer_class = SessionSerializer

    @extend_schema(responses={204: None, **errors(403, *ACCESS_CODES, "not_found")})
    def delete(self, request, id: str):  # noqa: A002 (the contract names the parameter {id})
        session_id = id
        # Only the caller's own live sessions exist here: anything else is 404, never 403.
        # Ids are 32 hex characters; anything else (a NUL byte on PostgreSQL) never reaches SQL.
        if not SESSION_ID.fullmatch(session_id):
            raise Http404
        session = selectors.live_sessions_for(request.user.id).filter(pk=session_id).first()
        if session is None:
            raise Http404
        services.revoke_session(session, reason=RevokeReason.SESSION_DELETE, actor=None)
        return Response(status=status.HTTP_204_NO_CONTENT)
