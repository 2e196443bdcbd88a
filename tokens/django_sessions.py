"""Session logins (the API's /api/session/login and Django's admin) under the user's cut-off.

Django keeps these sessions in Redis, where they cannot be found by user.
Instead each one is stamped at login with when it started and an id of its
own, and every request that carries one checks it against the user's
cut-off (one indexed query, only for requests with a logged-in Django
session): a session that started at or before the cut-off, and is not the
one the cut-off keeps, is flushed before Django reads its user.
"""

from datetime import timedelta

from django.contrib.auth import SESSION_KEY
from django.utils import timezone

from tokens import jwt, selectors
from tokens.models import new_token_id

STARTED_KEY = "_flowauth_started"
ID_KEY = "_flowauth_session_id"


def stamp(request, user) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    started = timezone.now()
    cutoff = selectors.cutoff_for(user.pk)
    if cutoff is not None and started <= cutoff.not_before:
        started = cutoff.not_before + timedelta(microseconds=1)  # a login after the cut-off survives it
    session[STARTED_KEY] = jwt.epoch_micros(started)
    session[ID_KEY] = new_token_id()


def current_id(request) -> str:
    """The id FlowAuth gave the request's session login ("" without one)."""
    session = getattr(request, "session", None)
    return session.get(ID_KEY, "") if session is not None else ""


def is_ended(session) -> bool:
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return False
    cutoff = selectors.cutoff_for(user_id)
    if cutoff is None:
        return False
    # Sessions from before stamping began count as started at 0: any cut-off ends them.
    started = session.get(STARTED_KEY, 0)
    return started <= jwt.epoch_micros(cutoff.not_before) and session.get(ID_KEY, "") != cutoff.keep_session_id


class SessionCutoffMiddleware:
    """Between SessionMiddleware and AuthenticationMiddleware: ended session logins are flushed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and is_ended(session):
            session.flush()
        return self.get_response(request)
