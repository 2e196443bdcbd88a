import bcrypt
import pytest

from accounts.models import User
from tests.helpers import PASSWORD, error_code, make_user

pytestmark = pytest.mark.django_db


def login(api, email, password):
    return api.post("/api/auth/login", {"email": email, "password": password}, format="json")


def test_login_returns_user_and_tokens_with_no_store(api, user):
    response = login(api, "ALICE@example.com", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == user.email
    assert {"access", "refresh"} <= set(body)
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def test_login_records_the_device_on_the_session(api, user):
    api.post(
        "/api/auth/login",
        {"email": user.email, "password": PASSWORD, "device_name": "Pixel 9"},
        format="json",
        HTTP_USER_AGENT="FlowApp/2.1",
    )
    session = user.auth_sessions.get()
    assert (session.device_name, session.user_agent, session.ip_address) == ("Pixel 9", "FlowApp/2.1", "127.0.0.1")


def test_unknown_email_wrong_password_and_inactive_user_get_the_same_answer(api, user):
    make_user("off@example.com", is_active=False)
    answers = [
        login(api, "nobody@example.com", PASSWORD),
        login(api, user.email, "wrong password"),
        login(api, "off@example.com", PASSWORD),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.content for r in answers}) == 1
    assert error_code(answers[0]) == "invalid_credentials"
    assert all(r["WWW-Authenticate"] == 'Bearer realm="flowauth"' for r in answers)


def test_unknown_email_still_runs_the_password_hasher(api, user, hasher_calls):
    hasher_calls.clear()
    login(api, "nobody@example.com", PASSWORD)
    assert hasher_calls, "an unknown email must cost a hash, like a wrong password does"


def _legacy_bcrypt_user(email: str, password: str) -> User:
    user = make_user(email)
    legacy = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    User.objects.filter(pk=user.pk).update(password=f"bcrypt${legacy}")
    return user


def test_legacy_bcrypt_hash_verifies_and_is_upgraded_to_argon2id(api):
    user = _legacy_bcrypt_user("old@example.com", PASSWORD)
    assert login(api, user.email, "wrong password").status_code == 401
    user.refresh_from_db()
    assert user.password.startswith("bcrypt$"), "a failed login must not rewrite the hash"
    assert login(api, user.email, PASSWORD).status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert login(api, user.email, PASSWORD).status_code == 200


def test_password_over_72_bytes_for_a_bcrypt_user_is_401_not_500(api):
    user = _legacy_bcrypt_user("long@example.com", PASSWORD)
    response = login(api, user.email, "x" * 100)
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"


@pytest.mark.parametrize(
    "body", [{}, {"email": "a@b.c"}, {"email": None, "password": None}, {"email": 1, "password": []}]
)
def test_malformed_login_bodies_are_400(api, body):
    response = api.post("/api/auth/login", body, format="json")
    assert response.status_code == 400


def test_oversized_password_is_rejected_before_hashing(api, user):
    response = login(api, user.email, "x" * 1_000_000)
    assert response.status_code == 400
    assert "password" in response.json()
