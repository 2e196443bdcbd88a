"""Redis down or lying: fail closed by default, or fall back to the database."""

import fakeredis
import pytest

from tests.helpers import bearer, error_code, login
from tokens import redis_client as redis_client_module
from tokens import revocation

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"
UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(token_settings):
    """Point the revocation store at a port where no Redis listens."""

    def apply(**extra):
        token_settings(REDIS_URL=UNREACHABLE, REDIS_SOCKET_TIMEOUT=0.5, **extra)

    return apply


def test_closed_mode_answers_503_with_retry_after(api, session_tokens, redis_down):
    redis_down()
    response = api.get(WHOAMI, **bearer(session_tokens["access"]))
    assert response.status_code == 503
    assert error_code(response) == "auth_unavailable"
    assert int(response["Retry-After"]) > 0


def test_database_mode_refuses_revoked_and_accepts_live_tokens(api, user, redis_down, django_assert_num_queries):
    revoked, live = login(api, user.email), login(api, user.email)
    api.post("/api/auth/logout", **bearer(revoked["access"]))
    redis_down(REVOCATION_FAILURE_MODE="database")
    assert error_code(api.get(WHOAMI, **bearer(revoked["access"]))) == "session_revoked"
    with django_assert_num_queries(1):
        assert api.get(WHOAMI, **bearer(live["access"])).status_code == 200


def test_logout_while_redis_is_down_is_503_with_nothing_half_done_and_a_retry_completes(
    api, session_tokens, redis_down, token_settings, settings
):
    from tokens.models import Session

    redis_down(REVOCATION_FAILURE_MODE="database")
    response = api.post("/api/auth/logout", **bearer(session_tokens["access"]))
    assert response.status_code == 503
    assert error_code(response) == "auth_unavailable"
    assert Session.objects.get().revoked_at is None, "a 503 logout must not commit half of itself"
    token_settings(REDIS_URL=settings.REDIS_URL, REVOCATION_FAILURE_MODE="closed")
    assert api.post("/api/auth/logout", **bearer(session_tokens["access"])).status_code == 204
    assert error_code(api.get(WHOAMI, **bearer(session_tokens["access"]))) == "session_revoked"


class _Broken(fakeredis.FakeRedis):
    """A client whose every command fails the way a given Redis error reply would."""

    error: Exception

    def execute_command(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        __import__("redis").exceptions.ReadOnlyError("READONLY You can't write against a read only replica."),
        __import__("redis").exceptions.BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        __import__("redis").exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
        __import__("redis").exceptions.AuthenticationError("NOAUTH Authentication required."),
        __import__("redis").exceptions.TimeoutError("Timeout reading from socket"),
    ],
    ids=["readonly", "loading", "oom", "noauth", "timeout"],
)
def test_error_replies_are_never_read_as_not_revoked(api, session_tokens, monkeypatch, error):
    broken = _Broken()
    broken.error = error
    monkeypatch.setattr(revocation, "get_redis", lambda: broken)
    response = api.get(WHOAMI, **bearer(session_tokens["access"]))
    assert response.status_code == 503
    assert error_code(response) == "auth_unavailable"


def test_an_mget_reply_of_the_wrong_shape_fails_closed(api, session_tokens, monkeypatch, token_settings):
    token_settings(REVOCATION_LOCAL_CACHE=False)  # the MGET path itself (a cached verdict would skip it)
    client = redis_client_module.get_redis()

    class Short:
        def mget(self, *keys):
            return [None]

        def __getattr__(self, name):
            return getattr(client, name)

    monkeypatch.setattr(revocation, "get_redis", lambda: Short())
    response = api.get(WHOAMI, **bearer(session_tokens["access"]))
    assert response.status_code in (503, 401)
    assert response.status_code != 200


def test_health_is_503_with_the_same_shape_when_redis_is_down(api, db, redis_down):
    redis_down()
    response = api.get("/api/auth/health")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"] == "unavailable" and body["database"] == "connected"
    assert set(body["sessionStats"]) == {"activeSessions", "cachedProfiles", "blacklistedTokens"}
