"""The answer of every view that signs a user in (register, login, and any later sign-in step).

Presentation only: the session is started by a service (tokens.services.issue_session,
or an accounts service that calls it) and handed in here. The pair goes in the body,
or, in cookie mode (README "Cookie mode"), into HttpOnly cookies with a CSRF token.
"""

from rest_framework.response import Response

from accounts.serializers import ProfileSerializer
from tokens import cookies
from tokens.services import TokenPair
from tokens.views import NO_STORE


def session_response(request, user, pair: TokenPair, status_code: int) -> Response:
    body = {"user": ProfileSerializer(user, context={"request": request}).data}
    if not cookies.requested(request):
        return Response({**body, **pair.as_dict()}, status=status_code, headers=NO_STORE)
    response = Response({**body, **cookies.body(pair)}, status=status_code, headers=NO_STORE)
    cookies.set_pair(response, request, pair)
    cookies.start_csrf(request)
    return response
