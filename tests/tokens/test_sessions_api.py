"""GET/DELETE /api/auth/sessions: the user's devices, and ending one of them."""

import pytest

from tests.helpers import bearer, claims, error_code, login
from tokens.models import AuthEvent, Session

pytestmark = pytest.mark.django_db


def test_lists_live_sessions_and_marks_the_current_one(api, user):
    phone = login(api, user.email, device_name="Phone")
    laptop = login(api, user.email, device_name="Laptop")
    response = api.get("/api/auth/sessions", **bearer(phone["access"]), HTTP_USER_AGENT="ua-test")
    assert response.status_code == 200
    body = {item["device_name"]: item for item in response.json()}
    assert set(body) == {"Phone", "Laptop"}
    assert body["Phone"]["current"] is True and body["Laptop"]["current"] is False
    assert body["Laptop"]["id"] == claims(laptop["access"])["sid"]
    assert set(body["Phone"]) == {
        "id",
        "device_name",
        "user_agent",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "current",
        "bound",  # DPoP (docs/dpop.md): an addition to the contract.s list (docs/api.md)
    }
    assert body["Phone"]["bound"] is False


def test_ended_sessions_are_not_listed(api, user):
    phone = login(api, user.email, device_name="Phone")
    laptop = login(api, user.email, device_name="Laptop")
    api.post("/api/auth/logout", **bearer(laptop["access"]))
    names = [item["device_name"] for item in api.get("/api/auth/sessions", **bearer(phone["access"])).json()]
    assert names == ["Phone"]


def test_other_users_sessions_are_never_listed(api, user, other_user):
    login(api, user.email)
    bob = login(api, other_user.email)
    listed = api.get("/api/auth/sessions", **bearer(bob["access"])).json()
    assert [item["id"] for item in listed] == [claims(bob["access"])["sid"]]


def test_delete_ends_that_session_everywhere(api, user):
    phone = login(api, user.email, device_name="Phone")
    laptop = login(api, user.email, device_name="Laptop")
    laptop_id = claims(laptop["access"])["sid"]
    response = api.delete(f"/api/auth/sessions/{laptop_id}", **bearer(phone["access"]))
    assert response.status_code == 204
    refused = api.get("/api/auth/whoami", **bearer(laptop["access"]))
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    assert api.post("/api/auth/refresh", {"refresh": laptop["refresh"]}, format="json").status_code == 401
    assert api.get("/api/auth/whoami", **bearer(phone["access"])).status_code == 200
    session = Session.objects.get(pk=laptop_id)
    assert session.revoke_reason == "session_delete"
    assert AuthEvent.objects.filter(kind="session_revoked", session_id=laptop_id, reason="session_delete").exists()


def test_delete_of_the_current_session_logs_this_device_out(api, user):
    phone = login(api, user.email)
    sid = claims(phone["access"])["sid"]
    assert api.delete(f"/api/auth/sessions/{sid}", **bearer(phone["access"])).status_code == 204
    assert error_code(api.get("/api/auth/sessions", **bearer(phone["access"]))) == "session_revoked"


def test_another_users_session_is_404_and_left_alive(api, user, other_user):
    alice = login(api, user.email)
    bob = login(api, other_user.email)
    alice_sid = claims(alice["access"])["sid"]
    response = api.delete(f"/api/auth/sessions/{alice_sid}", **bearer(bob["access"]))
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert api.get("/api/auth/whoami", **bearer(alice["access"])).status_code == 200
    assert Session.objects.get(pk=alice_sid).revoked_at is None


@pytest.mark.parametrize("session_id", ["0" * 32, "nope", "%00", "' OR 1=1 --", "A" * 32, "a" * 33])
def test_unknown_session_is_404(api, user, session_id):
    alice = login(api, user.email)
    response = api.delete(f"/api/auth/sessions/{session_id}", **bearer(alice["access"]))
    assert response.status_code == 404


def test_already_ended_session_is_404(api, user):
    phone = login(api, user.email)
    laptop = login(api, user.email)
    laptop_id = claims(laptop["access"])["sid"]
    api.post("/api/auth/logout", **bearer(laptop["access"]))
    assert api.delete(f"/api/auth/sessions/{laptop_id}", **bearer(phone["access"])).status_code == 404


@pytest.mark.parametrize("method", ["get", "delete"])
def test_sessions_require_an_access_token(api, method):
    response = getattr(api, method)("/api/auth/sessions" + ("/x" if method == "delete" else ""))
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


def test_a_refresh_token_is_not_an_access_token(api, user):
    alice = login(api, user.email)
    response = api.get("/api/auth/sessions", **bearer(alice["refresh"]))
    assert response.status_code == 401 and error_code(response) == "token_invalid"
