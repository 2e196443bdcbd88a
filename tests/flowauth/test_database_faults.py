"""The database unreachable or failing mid-rotation: clean 503s, nothing half-written."""

import threading
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from tests import servers
from tests.helpers import PASSWORD, bearer, claims, login, make_user
from tokens import services
from tokens.models import RefreshToken, Session

LEAK_MARKERS = (
    "Traceback",
    "SELECT",
    "INSERT",
    "UPDATE",
    "postgres://",
    "sqlite",
    "psycopg",
    "OperationalError",
    'File "',
)


def assert_clean_503(status: int, headers, body: str) -> None:
    assert status == 503, body
    assert headers["Content-Type"].startswith("application/json")
    assert '"code":"auth_unavailable"' in body.replace(" ", "")
    assert int(headers["Retry-After"]) > 0
    for marker in LEAK_MARKERS:
        assert marker not in body, marker


@pytest.fixture
def database_down(monkeypatch):
    """Every query on this thread's connection fails as if the server were gone."""

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    def apply():
        monkeypatch.setattr(connection, "cursor", refuse)
        monkeypatch.setattr(connection, "ensure_connection", refuse)

    return apply


@pytest.mark.django_db
def test_database_down_in_process_gives_clean_503s_and_stateless_reads_keep_working(api, user, database_down):
    tokens = login(api, user.email)
    database_down()
    calls = [
        api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"),
        api.post("/api/auth/register", {"email": "new@example.com", "password": PASSWORD}, format="json"),
        api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json"),
        api.post("/api/auth/logout", **bearer(tokens["access"])),
    ]
    for response in calls:
        assert_clean_503(response.status_code, response, response.content.decode())
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 200  # Redis only
    health = api.get("/api/auth/health")
    assert health.status_code == 503
    assert health.json()["database"] == "unavailable" and health.json()["redis"] == "connected"


@pytest.mark.django_db(transaction=True)
def test_a_fault_between_the_cas_update_and_the_new_row_rolls_back_the_whole_rotation(api, monkeypatch):
    user = make_user("rotate@example.com")
    tokens = login(api, user.email)
    original = services._new_refresh_row

    def fail_for_successors(session, now, replaces=None):
        if replaces is not None:  # the CAS UPDATE has run; the insert of R2 fails
            raise OperationalError("server closed the connection unexpectedly")
        return original(session, now, replaces)

    monkeypatch.setattr(services, "_new_refresh_row", fail_for_successors)
    response = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert_clean_503(response.status_code, response, response.content.decode())
    row = RefreshToken.objects.get()
    assert row.used_at is None, "the CAS must roll back with the failed insert"
    assert RefreshToken.objects.count() == 1, "no orphan successor row"

    monkeypatch.setattr(services, "_new_refresh_row", original)
    first = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert RefreshToken.objects.count() == 2
    live = RefreshToken.objects.filter(used_at__isnull=True, is_revoked=False)
    assert list(live.values_list("jti", flat=True)) == [claims(first.json()["refresh"])["jti"]]


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_gunicorn_with_an_unreachable_database_answers_clean_503s():
    user = make_user("nodb@example.com")
    pair = services.issue_session(user)
    with servers.gunicorn(workers=1, threads=2, DATABASE_URL="postgres://postgres@127.0.0.1:1/x") as base:
        responses = [
            httpx.post(f"{base}/api/auth/login", json={"email": user.email, "password": PASSWORD}),
            httpx.post(f"{base}/api/auth/refresh", json={"refresh": pair.refresh}),
            httpx.post(f"{base}/api/auth/logout", headers={"Authorization": f"Bearer {pair.access}"}),
        ]
        for response in responses:
            assert_clean_503(response.status_code, response.headers, response.text)
        health = httpx.get(f"{base}/api/auth/health")
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        assert "127.0.0.1:1" not in health.text
        # Revocation checks need only Redis: a live access token still works.
        whoami = httpx.get(f"{base}/api/auth/whoami", headers={"Authorization": f"Bearer {pair.access}"})
        assert whoami.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_flushing_expired_rows_while_refreshing_gives_no_error(api, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {**settings.FLOWAUTH_THROTTLE_RATES, "refresh_ip": "100000/min"}
    user = make_user("flush@example.com")
    past = timezone.now() - timedelta(days=30)
    sessions = Session.objects.bulk_create(
        Session(user=user, created_at=past, last_used_at=past, expires_at=past) for _ in range(1500)
    )
    RefreshToken.objects.bulk_create(
        RefreshToken(user=user, session=session, issued_at=past, expires_at=past) for session in sessions
    )
    refresh = login(api, user.email)["refresh"]

    def flush():
        try:
            call_command("flush_expired_tokens", "--batch-size", "100")
        finally:
            connection.close()  # this thread's own connection would outlive the test database

    statuses, flushing = [], threading.Thread(target=flush)
    flushing.start()
    while flushing.is_alive() or len(statuses) < 5:
        response = api.post("/api/auth/refresh", {"refresh": refresh}, format="json")
        statuses.append(response.status_code)
        refresh = response.json()["refresh"]
    flushing.join()
    assert set(statuses) == {200}
    assert Session.objects.count() == 1
    assert RefreshToken.objects.filter(expires_at__lt=timezone.now()).count() == 0
