import pytest

from accounts.models import User
from tests.helpers import PASSWORD, bearer, claims, error_code

pytestmark = pytest.mark.django_db


def register(api, **body):
    return api.post("/api/auth/register", body, format="json")


def test_register_returns_user_and_a_working_token_pair(api):
    response = register(api, email="New@Example.com", password=PASSWORD, username="neo")
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "new@example.com"
    assert body["user"]["username"] == "neo"
    assert response["Cache-Control"] == "no-store"
    assert claims(body["access"])["token_type"] == "access"
    assert claims(body["refresh"])["token_type"] == "refresh"
    assert api.get("/api/auth/profile", **bearer(body["access"])).json()["email"] == "new@example.com"


def test_register_hashes_the_password_with_argon2id(api):
    register(api, email="a@example.com", password=PASSWORD)
    stored = User.objects.get(email="a@example.com").password
    assert stored.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


def test_duplicate_email_in_any_case_is_409_email_taken(api):
    assert register(api, email="dup@example.com", password=PASSWORD).status_code == 201
    response = register(api, email="  DUP@example.COM ", password=PASSWORD)
    assert response.status_code == 409
    assert error_code(response) == "email_taken"
    assert User.objects.filter(email="dup@example.com").count() == 1


@pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
def test_weak_passwords_are_refused_by_django_validators(api, password):
    response = register(api, email="weak@example.com", password=password)
    assert response.status_code == 400
    assert "password" in response.json()
    assert not User.objects.filter(email="weak@example.com").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"password": PASSWORD},
        {"email": "x@example.com"},
        {"email": ["x@example.com"], "password": PASSWORD},
        {"email": "x@example.com", "password": {"$gt": ""}},
        {"email": "x@example.com", "password": "x" * 5000},
        {"email": "a" * 250 + "@example.com", "password": PASSWORD},
    ],
)
def test_malformed_registrations_get_field_errors(api, body):
    response = register(api, **body)
    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert User.objects.count() == 0


def test_deeply_nested_json_is_a_400_not_a_500(api):
    body = "[" * 100_000 + "]" * 100_000
    response = api.post("/api/auth/register", body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "parse_error"


def test_unicode_passwords_round_trip(api):
    secret = "pässwörd 🔐 日本語 with spaces"
    assert register(api, email="u@example.com", password=secret).status_code == 201
    response = api.post("/api/auth/login", {"email": "u@example.com", "password": secret}, format="json")
    assert response.status_code == 200
