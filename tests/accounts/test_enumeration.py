"""Login does not tell an unknown email from a wrong password, an inactive user
or an unusable password: same status, body and headers, and the password
hasher runs in every case. Timing itself is measured by bench/enumeration.py,
not asserted here."""

import pytest

from accounts.models import User
from tests.helpers import PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login"
COMPARED_HEADERS = ("Content-Type", "WWW-Authenticate", "Cache-Control", "Vary", "Allow", "X-Frame-Options")


@pytest.fixture
def cases(db):
    make_user("known@example.com")
    make_user("inactive@example.com", is_active=False)
    unusable = make_user("unusable@example.com")
    unusable.set_unusable_password()
    unusable.save()
    return {
        "unknown email": ("nobody@example.com", PASSWORD),
        "wrong password": ("known@example.com", "wrong password"),
        "inactive user": ("inactive@example.com", PASSWORD),
        "unusable password": ("unusable@example.com", PASSWORD),
    }


def test_every_failure_gives_the_same_status_body_and_headers(api, cases):
    responses = {
        name: api.post(LOGIN, {"email": email, "password": pw}, format="json") for name, (email, pw) in cases.items()
    }
    assert {r.status_code for r in responses.values()} == {401}
    assert len({r.content for r in responses.values()}) == 1
    for header in COMPARED_HEADERS:
        assert len({r.get(header) for r in responses.values()}) == 1, header
    assert len({tuple(sorted(r.cookies)) for r in responses.values()}) == 1
    assert responses["unknown email"].json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "inactive user", "unusable password"])
def test_the_hasher_calls_once_whatever_the_failure(api, cases, hasher_calls, case):
    email, pw = cases[case]
    hasher_calls.clear()
    assert api.post(LOGIN, {"email": email, "password": pw}, format="json").status_code == 401
    assert len(hasher_calls) == 1, f"{case}: the hasher ran {len(hasher_calls)} times"


def test_a_failed_login_writes_nothing(api, cases):
    before = list(User.objects.order_by("pk").values_list("password", "last_login"))
    for email, pw in cases.values():
        api.post(LOGIN, {"email": email, "password": pw}, format="json")
    assert list(User.objects.order_by("pk").values_list("password", "last_login")) == before


def test_registration_reveals_a_taken_email_by_design_and_is_throttled(api, cases, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {**settings.FLOWAUTH_THROTTLE_RATES, "register_ip": "2/min"}
    taken = api.post("/api/auth/register", {"email": "known@example.com", "password": PASSWORD}, format="json")
    assert taken.status_code == 409 and taken.json()["code"] == "email_taken"  # API.md's documented exception
    api.post("/api/auth/register", {"email": "inactive@example.com", "password": PASSWORD}, format="json")
    probe = api.post("/api/auth/register", {"email": "unusable@example.com", "password": PASSWORD}, format="json")
    assert probe.status_code == 429
