"""Classes of input, from outside: odd code points in every string field, look-alike
addresses, the errors a bad value gets, and the settings and stores behind them."""

import importlib
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import DataError, IntegrityError, OperationalError, connection
from rest_framework.test import APIClient

from accounts.models import User
from tests import servers
from tests.helpers import PASSWORD, bearer, error_code, login, make_user
from tokens import revocation, services

pytestmark = pytest.mark.django_db

ODD_STRINGS = {
    "lone_surrogate": "\ud800",
    "low_surrogate_pair_reversed": "a\udc00\ud800b",
    "nul": "a\x00b",
    "controls": "a\x07\x1b[31m\x7fb",
    "zero_width": "a\u200b\u200d\ufeffb",
    "bidi_override": "a\u202eb",
    "line_separator": "a\u2028b",
    "one_megabyte": "x" * 1_000_000,
}
STAFF = "staff@example.com"

# endpoint: (method, path, credentials, valid body); each string field is replaced in turn.
STRING_FIELDS = {
    "register": (
        "post",
        "/api/auth/register",
        None,
        {"email": "new@example.com", "password": "a long enough passphrase", "username": "new"},
    ),
    "login": (
        "post",
        "/api/auth/login",
        None,
        {"email": "alice@example.com", "password": PASSWORD, "device_name": "phone"},
    ),
    "session_login": ("post", "/api/session/login", "csrf", {"email": "alice@example.com", "password": PASSWORD}),
    "refresh": ("post", "/api/auth/refresh", None, {"refresh": "x"}),
    "logout": ("post", "/api/auth/logout", "user", {"refresh": "x"}),
    "revoke": ("post", "/api/auth/revoke", None, {"token": "x", "token_type_hint": "access_token"}),
    "introspect": ("post", "/api/auth/introspect", "staff", {"token": "x", "token_type_hint": "access_token"}),
    "profile": ("patch", "/api/auth/profile", "user", {"username": "a", "first_name": "b", "last_name": "c"}),
    "password": (
        "put",
        "/api/auth/profile/password",
        "user",
        {"current_password": PASSWORD, "new_password": "another long passphrase"},
    ),
}


def _credentials(client, kind, user) -> dict:
    if kind == "user":
        return bearer(services.issue_session(user).access)
    if kind == "staff":
        staff = User.objects.filter(email=STAFF).first() or make_user(STAFF, is_staff=True)
        return bearer(services.issue_session(staff).access)
    if kind == "csrf":
        return {"HTTP_X_CSRFTOKEN": client.get("/api/auth/csrf").json()["csrf_token"]}
    return {}


def _send(name, body, user):
    method, path, kind, _ = STRING_FIELDS[name]
    client = APIClient(enforce_csrf_checks=True)
    # json.dumps escapes lone surrogates as \ud800: the bytes on the wire are valid UTF-8.
    return getattr(client, method)(
        path, json.dumps(body), content_type="application/json", **_credentials(client, kind, user)
    )


@pytest.mark.parametrize("name", STRING_FIELDS)
def test_odd_code_points_in_every_string_field_are_a_4xx_never_a_5xx(name, user, caplog):
    """A passphrase may hold any character (2xx); an address or a token may not (400); nothing is a 5xx."""
    valid = STRING_FIELDS[name][3]
    for field in valid:
        for label, odd in ODD_STRINGS.items():
            response = _send(name, {**valid, field: odd}, user)
            assert response.status_code < 500, (field, label, response.status_code)
            if response.content:
                assert response["Content-Type"].startswith("application/json"), (field, label)
            if field == "email" or label in ("lone_surrogate", "low_surrogate_pair_reversed", "nul"):
                assert response.status_code == 400, (field, label, response.status_code)
            if field == "email" or (response.status_code == 400 and name not in ("revoke", "introspect")):
                assert field in response.json(), (field, label, response.json())
    assert "Traceback" not in caplog.text


def test_a_lone_surrogate_in_the_login_email_is_a_400_on_email(api, user):
    for path in ("/api/auth/login",):
        response = api.post(
            path, json.dumps({"email": "\ud800@example.com", "password": PASSWORD}), content_type="application/json"
        )
        assert response.status_code == 400 and "email" in response.json()


LOOK_ALIKES = {
    "zero_width_space": "alice\u200b@example.com",
    "soft_hyphen": "al\u00adice@example.com",
    "right_to_left_mark": "alice@example.com\u200f",
    "nul": "alice\x00@example.com",
    "tab_inside": "ali\tce@example.com",
    "private_use": "alice\ue000@example.com",
    "unassigned": "alice\U000e0080@example.com",
}
SAME_ACCOUNT = {
    "fullwidth": "ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ",
    "upper_case": "ALICE@EXAMPLE.COM",
    "padded": "  alice@example.com ",
}


@pytest.mark.parametrize("address", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_an_address_with_invisible_characters_is_refused_on_email_everywhere(api, user, address):
    register = api.post("/api/auth/register", {"email": address, "password": "a long enough passphrase"}, format="json")
    assert register.status_code == 400 and "email" in register.json(), register.content
    login_ = api.post("/api/auth/login", {"email": address, "password": PASSWORD}, format="json")
    assert login_.status_code == 400 and "email" in login_.json()
    client = APIClient(enforce_csrf_checks=True)
    session = client.post(
        "/api/session/login",
        {"email": address, "password": PASSWORD},
        format="json",
        **_credentials(client, "csrf", user),
    )
    assert session.status_code == 400 and "email" in session.json()
    assert User.objects.count() == 1


@pytest.mark.parametrize("address", SAME_ACCOUNT.values(), ids=SAME_ACCOUNT.keys())
def test_a_look_alike_of_an_address_is_the_same_account(api, user, address):
    register = api.post("/api/auth/register", {"email": address, "password": "a long enough passphrase"}, format="json")
    assert (register.status_code, error_code(register)) == (409, "email_taken")
    assert api.post("/api/auth/login", {"email": address, "password": PASSWORD}, format="json").status_code == 200


def test_nfd_and_nfc_forms_are_one_account(api):
    nfc, nfd = "alice@ex\u00e1mple.com", "alice@exa\u0301mple.com"
    assert api.post("/api/auth/register", {"email": nfd, "password": PASSWORD}, format="json").status_code == 201
    assert User.objects.get().email == nfc
    again = api.post("/api/auth/register", {"email": nfc, "password": PASSWORD}, format="json")
    assert error_code(again) == "email_taken"
    assert api.post("/api/auth/login", {"email": nfc, "password": PASSWORD}, format="json").status_code == 200


def test_case_is_folded_over_the_whole_address(api):
    assert (
        api.post(
            "/api/auth/register", {"email": "STRASSE@Example.COM", "password": PASSWORD}, format="json"
        ).status_code
        == 201
    )
    assert User.objects.get().email == "strasse@example.com"
    assert (
        error_code(api.post("/api/auth/register", {"email": "straße@example.com", "password": PASSWORD}, format="json"))
        == "email_taken"
    )


def test_the_admin_refuses_invisible_characters_and_stores_the_normal_form(client):
    admin = User.objects.create_superuser("root@example.com", PASSWORD)
    client.force_login(admin)
    form = {"password1": "a long enough passphrase", "password2": "a long enough passphrase"}
    response = client.post("/admin/accounts/user/add/", {"email": "alice\u200b@example.com", **form})
    assert response.status_code == 200 and "email" in response.context["adminform"].form.errors
    assert not User.objects.filter(email__startswith="alice").exists()
    response = client.post("/admin/accounts/user/add/", {"email": "Alice@EXA\u0301MPLE.com", **form})
    assert response.status_code == 302
    assert User.objects.filter(email="alice@ex\u00e1mple.com").exists()


def test_the_import_refuses_invisible_characters_and_normalises_the_rest(tmp_path):
    import io

    import bcrypt
    from django.core.management import call_command

    hashed = bcrypt.hashpw(b"old password", bcrypt.gensalt(rounds=4)).decode()
    rows = [
        {"email": "ｂｏｂ@example.com", "password_hash": hashed},
        {"email": "eve\u200b@example.com", "password_hash": hashed},
    ]
    path = tmp_path / "users.json"
    path.write_text(json.dumps(rows))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_users", str(path), stdout=out, stderr=err)
    assert list(User.objects.values_list("email", flat=True)) == ["bob@example.com"]
    assert "row 2" in err.getvalue() and "invalid email" in err.getvalue()


def test_the_migration_renormalises_stored_emails_and_leaves_a_collision_alone(caplog):
    from django.db import connection as _connection

    if _connection.vendor == "mysql":
        pytest.skip(
            "MySQL's utf8mb4_unicode_ci collation already treats these addresses as one: the rows cannot be set up"
        )
    User.objects.bulk_create(
        [
            User(email="ａｌｉｃｅ@example.com".lower()),  # stored by the old .lower()
            User(email="alice@exa\u0301mple.com"),
            User(email="bob@example.com"),
            User(email="ｂｏｂ@example.com".lower()),  # would become bob@example.com: a collision
        ]
    )
    migration = importlib.import_module("accounts.migrations.0002_normalize_emails")
    migration.normalize_emails(apps, SimpleNamespace(connection=connection))
    emails = sorted(User.objects.values_list("email", flat=True))
    assert emails == sorted(["alice@example.com", "alice@ex\u00e1mple.com", "bob@example.com", "ｂｏｂ@example.com"])
    assert "collides" in caplog.text and "bob" not in caplog.text  # the id is logged, not the address


# --- CSRF, types, passwords ------------------------------------------------------


def test_a_csrf_refusal_names_its_reason():
    response = APIClient(enforce_csrf_checks=True).post(
        "/api/session/login", {"email": "a@example.com", "password": "x"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "CSRF Failed: CSRF cookie not set."
    assert "HttpResponse" not in response.content.decode()


def test_a_user_id_is_a_number_everywhere(api, user):
    staff = make_user(STAFF, is_staff=True)
    tokens = login(api, user.email)
    profile = api.get("/api/auth/profile", **bearer(tokens["access"])).json()
    whoami = api.get("/api/auth/whoami", **bearer(tokens["access"])).json()
    introspection = api.post(
        "/api/auth/introspect",
        {"token": tokens["access"]},
        format="json",
        **bearer(services.issue_session(staff).access),
    ).json()
    assert type(profile["id"]) is int
    assert profile["id"] == whoami["user_id"] == introspection["user_id"]
    assert introspection["sub"] == str(profile["id"])  # RFC 7662: sub is a string


def test_a_new_password_equal_to_the_current_one_is_400_on_new_password(api, user):
    tokens = login(api, user.email)
    response = api.put(
        "/api/auth/profile/password",
        {"current_password": PASSWORD, "new_password": PASSWORD},
        format="json",
        **bearer(tokens["access"]),
    )
    assert response.status_code == 400 and list(response.json()) == ["new_password"]
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 200  # nothing ended


# --- database errors by kind ------------------------------------------------------


@pytest.mark.parametrize(
    "error, status, code",
    [
        (DataError("value too long for type character varying(150)"), 400, "invalid_data"),
        (IntegrityError("UNIQUE constraint failed: accounts_user.email"), 500, "server_error"),
        (OperationalError("server closed the connection unexpectedly"), 503, "auth_unavailable"),
    ],
)
def test_database_errors_are_answered_by_kind(api, user, monkeypatch, caplog, error, status, code):
    access = login(api, user.email)["access"]

    def fail(**kwargs):
        raise error

    monkeypatch.setattr("accounts.services.update_profile", fail)
    response = api.patch("/api/auth/profile", {"first_name": "Al"}, format="json", **bearer(access))
    assert (response.status_code, response.json()) == (status, {"detail": response.json()["detail"], "code": code})
    body = response.content.decode()
    assert "Traceback" not in body and "accounts_user" not in body and "varying" not in body


# --- the rebuild lock --------------------------------------------------------------


def test_a_rebuild_that_fails_midway_releases_its_lock(redis_client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr("tokens.selectors.revocations_to_guard", broken)
    with pytest.raises(OperationalError):
        revocation.rebuild()
    assert redis_client.get(revocation.REBUILD_LOCK_KEY) is None
    monkeypatch.undo()
    assert revocation.rebuild() == 0  # the next process rebuilds at once, no 60 s of 503s


def test_a_failed_rebuild_leaves_a_lock_that_is_no_longer_its_own(redis_client, monkeypatch):
    def taken_over_then_broken(*args, **kwargs):
        redis_client.set(revocation.REBUILD_LOCK_KEY, "another-process")  # ours expired; another took it
        raise OperationalError("connection lost")

    monkeypatch.setattr("tokens.selectors.revocations_to_guard", taken_over_then_broken)
    with pytest.raises(OperationalError):
        revocation.rebuild()
    assert redis_client.get(revocation.REBUILD_LOCK_KEY) in ("another-process", b"another-process")


# --- DATABASE_URL options --------------------------------------------------------------


def _database_settings(url: str) -> dict:
    code = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    env = {**servers.server_env(), "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "flowauth.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=servers.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_options_in_a_sqlite_database_url_are_kept_beside_the_defaults(tmp_path):
    options = _database_settings(f"sqlite:///{tmp_path / 'x.db'}?timeout=3&init_command=PRAGMA%20foreign_keys%3DON")
    assert options["timeout"] == 3 and options["init_command"] == "PRAGMA foreign_keys=ON"
    assert options["transaction_mode"] == "IMMEDIATE"


def test_options_in_a_mysql_database_url_win_over_the_defaults():
    options = _database_settings("mysql://u@127.0.0.1:1/db?charset=latin1&connect_timeout=9")
    assert (options["charset"], options["connect_timeout"]) == ("latin1", 9)
    assert options["isolation_level"] == "read committed"


# --- the profile cache with Redis down (REVOCATION_FAILURE_MODE=database) ---------------


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def test_profile_changes_with_redis_down_are_503_with_nothing_written(api, user, token_settings, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    access = login(api, user.email)["access"]
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5, REVOCATION_FAILURE_MODE="database")
    assert api.get("/api/auth/whoami", **bearer(access)).status_code == 200  # the database answers for Redis
    response = api.patch("/api/auth/profile", {"first_name": "Changed"}, format="json", **bearer(access))
    assert (response.status_code, error_code(response)) == (503, "auth_unavailable")
    upload = SimpleUploadedFile("a.png", _png(), content_type="image/png")
    avatar = api.post("/api/auth/profile/avatar", {"avatar": upload}, format="multipart", **bearer(access))
    assert (avatar.status_code, error_code(avatar)) == (503, "auth_unavailable")
    user.refresh_from_db()
    assert user.first_name == "" and not user.avatar
    assert not any(tmp_path.rglob("*.png"))
