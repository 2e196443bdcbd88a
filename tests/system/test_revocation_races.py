"""Revocation racing a refresh, over real gunicorn processes (docs/security.md ROT-10, ROT-11).

Each iteration starts a session in-process, releases the two contenders with a
barrier, then checks what a client would see: every access token and every
refresh token of the session (the original pair and whatever the racing refresh
returned) is refused, and no request ever answered 5xx. Whichever side wins the
race, nothing of the session may survive ("resurrected" sessions).
"""

import httpx
import pytest

from tests.helpers import PASSWORD, burst, make_user
from tests.servers import gunicorn
from tokens import services
from tokens.models import RefreshToken, RevokeReason, Session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

WHOAMI, REFRESH = "/api/auth/whoami", "/api/auth/refresh"
OTHER_PASSWORD = "a different long passphrase 42"


@pytest.fixture(scope="module")
def server(django_db_setup, _redis_server):
    with gunicorn(workers=2, threads=4) as base:
        yield base


def checker(base: str) -> httpx.Client:
    # Connection: close, so consecutive checks land on either worker process.
    return httpx.Client(base_url=base, headers={"Connection": "close"}, timeout=30)


@pytest.fixture
def http(server):
    with checker(server) as client:
        yield client


def auth(access: str) -> dict:
    return {"Authorization": f"Bearer {access}"}


def race(base: str, *contenders):
    """Run each contender(client) in its own thread, released together; return their results in order."""

    def bound(contender):
        def run():
            with httpx.Client(base_url=base, timeout=30) as client:
                return contender(client)

        return run

    results = burst([bound(contender) for contender in contenders], timeout=30)
    for result in results:
        if isinstance(result, httpx.Response):
            assert result.status_code < 500, (result.status_code, result.text)
    return results


def refresh(raw: str):
    return lambda client: client.post(REFRESH, json={"refresh": raw})


def tokens_of(pair, refreshed: httpx.Response) -> tuple[list, list]:
    """(access tokens, refresh tokens) the client holds after the race."""
    accesses, refreshes = [pair.access], [pair.refresh]
    if refreshed.status_code == 200:
        accesses.append(refreshed.json()["access"])
        refreshes.append(refreshed.json()["refresh"])
    else:
        assert refreshed.status_code == 401, refreshed.text
        assert refreshed.json()["code"] in ("session_revoked", "refresh_reused"), refreshed.text
    return accesses, refreshes


def assert_nothing_accepted(http, session_id: str, accesses: list, refreshes: list) -> None:
    for access in accesses:
        response = http.get(WHOAMI, headers=auth(access))
        assert (response.status_code, response.json()["code"]) == (401, "session_revoked"), response.text
    for raw in refreshes:
        response = http.post(REFRESH, json={"refresh": raw})
        assert response.status_code == 401, response.text
        assert response.json()["code"] in ("session_revoked", "refresh_reused"), response.text
    assert Session.objects.get(pk=session_id).revoked_at is not None
    assert not RefreshToken.objects.filter(session_id=session_id, is_revoked=False, used_at__isnull=True).exists()


def assert_live(http, pair) -> None:
    """Positive control: the checks above can succeed, so their 401s mean something."""
    assert http.get(WHOAMI, headers=auth(pair.access)).status_code == 200
    assert http.post(REFRESH, json={"refresh": pair.refresh}).status_code == 200


def test_logout_racing_a_refresh_leaves_no_token_of_the_session_alive(server, http):
    user = make_user("logout-race@example.com")
    assert_live(http, services.issue_session(user))
    for _ in range(50):
        pair = services.issue_session(user)
        logout, refreshed = race(
            server,
            lambda client, pair=pair: client.post("/api/auth/logout", headers=auth(pair.access)),
            refresh(pair.refresh),
        )
        assert logout.status_code == 204, logout.text
        assert_nothing_accepted(http, pair.session.id, *tokens_of(pair, refreshed))


def test_password_change_racing_a_refresh_leaves_no_token_of_the_old_session_alive(server, http):
    passwords = [PASSWORD, OTHER_PASSWORD]
    user = make_user("password-race@example.com")
    for iteration in range(15):
        pair = services.issue_session(user)
        body = {"current_password": passwords[iteration % 2], "new_password": passwords[(iteration + 1) % 2]}
        changed, refreshed = race(
            server,
            lambda client, body=body, pair=pair: client.put(
                "/api/auth/profile/password", json=body, headers=auth(pair.access)
            ),
            refresh(pair.refresh),
        )
        assert changed.status_code == 200, changed.text
        assert_nothing_accepted(http, pair.session.id, *tokens_of(pair, refreshed))
        # This device carries on with the pair the change returned.
        assert http.get(WHOAMI, headers=auth(changed.json()["access"])).status_code == 200


def test_admin_revocation_racing_a_refresh_leaves_no_token_of_the_session_alive(server, http):
    user, staff = make_user("admin-race@example.com"), make_user("staff-race@example.com", is_staff=True)
    assert_live(http, services.issue_session(user))
    for _ in range(50):
        pair = services.issue_session(user)

        def revoke(_client, session=pair.session):
            services.revoke_session(session, reason=RevokeReason.ADMIN, actor=staff)

        _, refreshed = race(server, revoke, refresh(pair.refresh))
        assert_nothing_accepted(http, pair.session.id, *tokens_of(pair, refreshed))


@pytest.fixture(scope="module")
def no_grace_server(django_db_setup, _redis_server):
    with gunicorn(workers=2, threads=4, REFRESH_GRACE_SECONDS=0) as base:
        yield base


def test_reuse_after_the_window_racing_the_legitimate_refresh_revokes_the_whole_session(no_grace_server):
    user = make_user("reuse-race@example.com")
    with checker(no_grace_server) as http:
        for _ in range(50):
            pair = services.issue_session(user)
            second = http.post(REFRESH, json={"refresh": pair.refresh})  # R1 -> R2: R1 is now used up
            assert second.status_code == 200, second.text
            stolen, legitimate = race(no_grace_server, refresh(pair.refresh), refresh(second.json()["refresh"]))
            assert (stolen.status_code, stolen.json()["code"]) == (401, "refresh_reused"), stolen.text
            accesses, refreshes = tokens_of(pair, legitimate)
            accesses.append(second.json()["access"])
            refreshes.append(second.json()["refresh"])
            assert_nothing_accepted(http, pair.session.id, accesses, refreshes)
