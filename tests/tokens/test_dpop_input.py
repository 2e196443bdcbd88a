"""Input classes of the DPoP header and of a proof's members: always a clear 401, never a 5xx."""

import json

import jwt as pyjwt
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests import helpers
from tokens import dpop
from tokens.dpop_client import DPoPKey

pytestmark = pytest.mark.django_db

WHOAMI = "http://testserver/api/auth/whoami"
LOGIN = "http://testserver/api/auth/login"
KEY = DPoPKey("ES256")
JSON_VALUES = [None, True, False, 0, -1, 1.5, 10**40, "", "x", [], ["a"], {}, {"a": 1}]
ODD_TEXT = ["\ud800", "\x00", "\u202eevil", "é" * 3, "x" * 100_000, " ", "\t\n", "a.b", "a.b.c.d", "..", "=="]


@pytest.fixture
def bound(api, user):
    response = api.post(
        "/api/auth/login",
        {"email": user.email, "password": helpers.PASSWORD},
        format="json",
        HTTP_DPOP=KEY.proof("POST", LOGIN),
    )
    assert response.status_code == 200
    return response.json()


def _refused(response):
    assert response.status_code == 401, response.content
    assert helpers.error_code(response) in ("invalid_dpop_proof", "token_invalid")
    assert response["WWW-Authenticate"]


def _whoami(api, access, proof):
    return api.get("/api/auth/whoami", HTTP_AUTHORIZATION=f"DPoP {access}", HTTP_DPOP=proof)


@pytest.mark.parametrize("text", ODD_TEXT, ids=repr)
def test_odd_header_text_is_refused(api, bound, text):
    _refused(_whoami(api, bound["access"], text))


@pytest.mark.parametrize("text", ODD_TEXT, ids=repr)
def test_odd_header_text_on_login_is_refused_and_starts_no_session(api, user, text):
    from tokens.models import Session

    response = api.post(
        "/api/auth/login", {"email": user.email, "password": helpers.PASSWORD}, format="json", HTTP_DPOP=text
    )
    _refused(response)
    assert not Session.objects.exists()


def test_many_dpop_headers_joined_are_refused(api, bound):
    proofs = [KEY.proof("GET", WHOAMI, access_token=bound["access"]) for _ in range(50)]
    _refused(_whoami(api, bound["access"], ", ".join(proofs)))


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat", "ath", "nonce"])
@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_every_json_type_in_every_claim(api, bound, token_settings, claim, value):
    if claim == "nonce":
        token_settings(DPOP_NONCE=True)
    payload = {
        "jti": "j-typed",
        "htm": "GET",
        "htu": WHOAMI,
        "iat": int(timezone.now().timestamp()),
        "ath": dpop.access_token_hash(bound["access"]),
        claim: value,
    }
    proof = pyjwt.encode(payload, KEY.private_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": KEY.jwk})
    response = _whoami(api, bound["access"], proof)
    if claim == "jti" and value == "x":  # the one value of the right type: accepted
        assert response.status_code == 200
        return
    assert response.status_code == 401
    assert helpers.error_code(response) in ("invalid_dpop_proof", "use_dpop_nonce")


@pytest.mark.parametrize("member", ["typ", "alg", "jwk"])
@pytest.mark.parametrize("value", JSON_VALUES + ["\ud800", "\x00"], ids=repr)
def test_every_json_type_in_every_header_member(api, bound, member, value):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.jwk, member: value}
    payload = {
        "jti": "j",
        "htm": "GET",
        "htu": WHOAMI,
        "iat": int(timezone.now().timestamp()),
        "ath": dpop.access_token_hash(bound["access"]),
    }
    raw_header = helpers.b64(json.dumps(header).encode())
    proof = f"{raw_header}.{helpers.b64(payload)}.{helpers.b64(b'sig')}"
    _refused(_whoami(api, bound["access"], proof))


@pytest.mark.parametrize("body", ["[]", "1", '"x"', "null", "true"])
def test_non_object_json_segments_are_refused(api, bound, body):
    segment = helpers.b64(body.encode())
    _refused(_whoami(api, bound["access"], f"{segment}.{segment}.{segment}"))


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    text=st.text(max_size=300)
    | st.from_regex(r"[A-Za-z0-9_\-]{0,80}\.[A-Za-z0-9_\-]{0,80}\.[A-Za-z0-9_\-]{0,40}", fullmatch=True)
)
def test_fuzzed_dpop_header_never_5xx(api, bound, text):
    response = _whoami(api, bound["access"], text)
    assert response.status_code == 401
    refresh = api.post("/api/auth/refresh", {"refresh": bound["refresh"]}, format="json", HTTP_DPOP=text)
    assert refresh.status_code in (400, 401)
