from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.helpers import b64, bearer, claims, error_code, login, make_user, resign
from tokens import redis_client as tokens_redis

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"


def test_no_credentials_is_not_authenticated_without_an_error_attribute(api):
    response = api.get(WHOAMI)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="flowauth"'


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(api, session_tokens, scheme):
    response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"{scheme} {session_tokens['access']}")
    assert response.status_code == 200


def test_a_token_in_the_query_string_is_ignored(api, session_tokens):
    response = api.get(f"{WHOAMI}?access_token={session_tokens['access']}")
    assert error_code(response) == "not_authenticated"


def test_whoami_reports_the_token_claims(api, user, session_tokens):
    body = api.get(WHOAMI, **bearer(session_tokens["access"])).json()
    assert body["user_id"] == user.pk  # a number, as the profile's id
    assert body["session_id"] == claims(session_tokens["access"])["sid"]


def test_expired_access_token_is_token_expired(api, session_tokens):
    with time_machine.travel(timezone.now() + timedelta(seconds=901)):
        response = api.get(WHOAMI, **bearer(session_tokens["access"]))
    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    header = response["WWW-Authenticate"]
    assert header.startswith('Bearer realm="flowauth", error="invalid_token", error_description="')
    assert session_tokens["access"] not in header and session_tokens["access"] not in response.content.decode()


def test_refresh_token_as_bearer_is_invalid(api, session_tokens):
    assert error_code(api.get(WHOAMI, **bearer(session_tokens["refresh"]))) == "token_invalid"


@pytest.mark.parametrize("claim", ["jti", "token_type", "user_id", "sid", "refresh_jti", "exp", "iat"])
def test_a_token_missing_a_required_claim_is_invalid(api, session_tokens, claim):
    forged = resign(session_tokens["access"], drop=[claim])
    assert error_code(api.get(WHOAMI, **bearer(forged))) == "token_invalid"


@pytest.mark.parametrize("exp", ["9999999999", 1e20, True, None, [1], -1.5])
def test_exp_of_the_wrong_type_is_invalid(api, session_tokens, exp):
    forged = resign(session_tokens["access"], exp=exp)
    assert api.get(WHOAMI, **bearer(forged)).status_code == 401


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_alg_none_in_any_casing_is_refused(api, session_tokens, alg, signature):
    payload = claims(session_tokens["access"])
    token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(payload)}.{signature}"
    assert error_code(api.get(WHOAMI, **bearer(token))) == "token_invalid"


def test_a_changed_payload_byte_breaks_the_signature(api, session_tokens, other_user):
    header, _, signature = session_tokens["access"].split(".")
    payload = {**claims(session_tokens["access"]), "user_id": str(other_user.pk)}
    assert error_code(api.get(WHOAMI, **bearer(f"{header}.{b64(payload)}.{signature}"))) == "token_invalid"


def test_a_token_signed_with_another_key_is_invalid(api, session_tokens):
    import jwt

    forged = jwt.encode(
        claims(session_tokens["access"]), "another-secret-of-sufficient-length-0123456789", algorithm="HS256"
    )
    assert error_code(api.get(WHOAMI, **bearer(forged))) == "token_invalid"


def test_same_key_other_hmac_algorithm_is_refused(api, session_tokens):
    import jwt

    from tokens.settings import token_settings

    forged = jwt.encode(claims(session_tokens["access"]), token_settings.SIGNING_KEY, algorithm="HS512")
    assert error_code(api.get(WHOAMI, **bearer(forged))) == "token_invalid"


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "http://127.0.0.1:9/jwks"},
        {"x5u": "http://127.0.0.1:9/x"},
        {"crit": ["foo"], "foo": 1},
        {"kid": "../../../../dev/null"},
    ],
)
def test_key_pointing_headers_are_refused_or_harmless(api, session_tokens, header):
    forged = resign(session_tokens["access"], header=header)
    response = api.get(WHOAMI, **bearer(forged))
    if "kid" in header:
        assert response.status_code == 200  # an HS256 key has no kid map: kid is never used as a path
    else:
        assert error_code(response) == "token_invalid"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ".",
        "..",
        "a",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!!!.@@@@.####",
        "eyJ+.eyJ/.abc",
        "x" * 5000,
        f"{b64([])}.{b64(None)}.sig",
        f"{b64(1)}.{b64([])}.sig",
    ],
)
def test_malformed_tokens_are_401_never_500(api, raw):
    response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401


def test_bearer_with_two_values_is_refused(api, session_tokens):
    response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {session_tokens['access']} extra")
    assert response.status_code == 401


def test_future_iat_is_refused(api, session_tokens):
    forged = resign(session_tokens["access"], iat=int(timezone.now().timestamp()) + 60)
    assert error_code(api.get(WHOAMI, **bearer(forged))) == "token_invalid"


def test_an_authenticated_request_costs_one_redis_command_and_no_query(
    api, session_tokens, redis_client, django_assert_num_queries, token_settings
):
    token_settings(REVOCATION_LOCAL_CACHE=False)  # with it, see tests/tokens/test_local_cache.py
    api.get(WHOAMI, **bearer(session_tokens["access"]))  # warm the connection pool
    # The server's state just read: the request below is not the one that re-reads it now and then.
    tokens_redis.refresh_server_state()

    def calls():
        stats = redis_client.info("commandstats")
        return {name: value["calls"] for name, value in stats.items()}

    before = calls()
    with django_assert_num_queries(0):
        response = api.get(WHOAMI, **bearer(session_tokens["access"]))
    after = calls()
    assert response.status_code == 200
    delta = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    delta["cmdstat_info"] -= 1  # the measurement itself
    assert {name: n for name, n in delta.items() if n} == {"cmdstat_mget": 1}


def test_a_deleted_user_is_refused(api, user, session_tokens):
    user.delete()
    assert api.get(WHOAMI, **bearer(session_tokens["access"])).status_code == 401


def test_a_deactivated_user_is_refused_at_once(api, user, session_tokens):
    user.is_active = False
    user.save()
    assert error_code(api.get(WHOAMI, **bearer(session_tokens["access"]))) == "session_revoked"
    assert (
        error_code(api.post("/api/auth/refresh", {"refresh": session_tokens["refresh"]}, format="json"))
        == "session_revoked"
    )


def test_a_bulk_deactivation_refuses_every_deactivated_users_tokens_at_once(api, user, other_user):
    from accounts.models import User

    carol = make_user("carol@example.com")
    tokens = {person.email: login(api, person.email) for person in (user, other_user, carol)}
    assert User.objects.exclude(pk=carol.pk).update(is_active=False) == 2
    for email in (user.email, other_user.email):
        assert error_code(api.get(WHOAMI, **bearer(tokens[email]["access"]))) == "session_revoked"
        refused = api.post("/api/auth/refresh", {"refresh": tokens[email]["refresh"]}, format="json")
        assert error_code(refused) == "session_revoked"
    assert api.get(WHOAMI, **bearer(tokens[carol.email]["access"])).status_code == 200
