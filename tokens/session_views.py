""""Your devices": the signed-in user's live sessions, and ending one of them."""

from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from tokens import selectors, services
from tokens.models import RevokeReason
from tokens.serializers import SessionSerializer


class SessionListView(APIView):
    serializer_class = SessionSerializer

    def get(self, request):
        sessions = selectors.live_sessions_for(request.user.id)
        context = {"current_session_id": request.user.session_id}
        return Response(SessionSerializer(sessions, many=True, context=context).data)


class SessionDetailView(APIView):
    serializer_class = SessionSerializer

    def delete(self, request, session_id: str):
        # Only the caller's own live sessions exist here: anything else is 404, never 403.
        session = selectors.live_sessions_for(request.user.id).filter(pk=session_id).first()
        if session is None:
            raise Http404
        services.revoke_session(session, reason=RevokeReason.SESSION_DELETE, actor=None)
        return Response(status=status.HTTP_204_NO_CONTENT)
