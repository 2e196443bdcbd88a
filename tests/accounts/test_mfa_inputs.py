"""Classes of input at the second-factor operations: every field with every JSON type, odd code points,
bodies that are not objects. Nothing is a 5xx; every refusal is a 4xx in the contract's error shape."""

import json

import pytest
import time_machine
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.accounts.test_mfa import T0, enrol, first_step
from tests.helpers import bearer, make_user
from tests.system.test_input_classes import ODD_STRINGS

pytestmark = pytest.mark.django_db

JSON_VALUES = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "int": 123456,
    "float": 1.5,
    "huge_int": 10**40,
    "empty": "",
    "spaces": "      ",
    "list": ["123456"],
    "object": {"code": "123456"},
    "fullwidth_digits": "\uff11\uff12\uff13\uff14\uff15\uff16",
    "arabic_digits": "\u0661\u0662\u0663\u0664\u0665\u0666",
    "underscored": "12_345",
    "signed": "+12345",
    "long_digits": "1" * 100,
    **ODD_STRINGS,
}
NON_OBJECT_BODIES = ["[]", '"code"', "1", "null", "true", "[{}]", "{", "\x00", ""]

# operation: (method, path, credentials, valid body)
OPERATIONS = {
    "totp_confirm": ("post", "/api/auth/mfa/totp/confirm", "user", {"code": "123456"}),
    "login_mfa": ("post", "/api/auth/login/mfa", None, {"mfa_token": "TOKEN", "code": "123456"}),
    "session_login_mfa": ("post", "/api/session/login/mfa", "csrf", {"mfa_token": "TOKEN", "code": "123456"}),
    "reauth": ("post", "/api/auth/reauth", "user", {"password": "x", "code": "123456"}),
    "totp_start": ("post", "/api/auth/mfa/totp", "user", {"anything": "ignored"}),
    "recovery_codes": ("post", "/api/auth/mfa/recovery-codes", "user", {"anything": "ignored"}),
}


@pytest.fixture
def setup(db):
    with time_machine.travel(T0, tick=False):
        make_user("alice@example.com")
        client = APIClient()
        enrolled = enrol(client, "alice@example.com")
        yield client, enrolled


def _send(client, method, path, raw: str, headers):
    return client.generic(method.upper(), path, raw, content_type="application/json", **headers)


def _assert_clean(response, what):
    assert response.status_code < 500, (what, response.status_code, response.content[:300])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body, what
        if "detail" in body:  # {"detail", "code"}; otherwise DRF's field shape {"<field>": ["<message>"]}
            assert isinstance(body["code"], str) and isinstance(body["detail"], str)
        else:
            assert all(isinstance(messages, (list, dict)) for messages in body.values()), body


def _headers(client, kind, enrolled):
    if kind == "user":
        return bearer(enrolled["access"])
    if kind == "csrf":
        return {"HTTP_X_CSRFTOKEN": client.get("/api/auth/csrf").json()["csrf_token"]}
    return {}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_field_with_every_json_type_and_odd_code_point_is_a_clean_4xx(setup, operation):
    client, enrolled = setup
    method, path, kind, valid = OPERATIONS[operation]
    with time_machine.travel(T0, tick=False):
        mfa_token = first_step(client, "alice@example.com")
        valid = {key: (mfa_token if value == "TOKEN" else value) for key, value in valid.items()}
        for field in valid:
            for name, value in JSON_VALUES.items():
                body = {**valid, field: value}
                response = _send(client, method, path, json.dumps(body), _headers(client, kind, enrolled))
                _assert_clean(response, (operation, field, name))
                if operation in ("totp_confirm", "login_mfa", "session_login_mfa", "reauth"):
                    assert response.status_code >= 400, (operation, field, name)
            missing = {k: v for k, v in valid.items() if k != field}
            _assert_clean(
                _send(client, method, path, json.dumps(missing), _headers(client, kind, enrolled)),
                (operation, field, "missing"),
            )


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_bodies_that_are_not_json_objects_are_a_clean_4xx(setup, operation):
    client, enrolled = setup
    method, path, kind, _valid = OPERATIONS[operation]
    with time_machine.travel(T0, tick=False):
        for raw in NON_OBJECT_BODIES:
            response = _send(client, method, path, raw, _headers(client, kind, enrolled))
            _assert_clean(response, (operation, raw))
            if operation not in ("totp_start", "recovery_codes"):
                assert 400 <= response.status_code < 500, (operation, raw)


def test_odd_input_changes_nothing(setup):
    client, enrolled = setup
    with time_machine.travel(T0, tick=False):
        before = list(TOTPDevice.objects.values_list("pk", "key", "confirmed", "last_t"))
        for value in JSON_VALUES.values():
            _send(client, "post", "/api/auth/mfa/totp/confirm", json.dumps({"code": value}), bearer(enrolled["access"]))
            _send(
                client,
                "post",
                "/api/auth/reauth",
                json.dumps({"password": value, "code": value}),
                bearer(enrolled["access"]),
            )
        assert list(TOTPDevice.objects.values_list("pk", "key", "confirmed", "last_t")) == before
        assert client.get("/api/auth/whoami", **bearer(enrolled["access"])).status_code == 200
