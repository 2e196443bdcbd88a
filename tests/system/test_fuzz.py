"""Fuzzing: arbitrary JSON into every serializer, JWT-shaped strings into the
token endpoints, and schemathesis over whatever operations /api/schema/
describes. Nothing may answer 5xx (the designed 503 aside: Redis and the
database are up here, so none is expected either)."""

import json
import string
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from accounts.serializers import LoginSerializer, ProfileSerializer, RegisterSerializer
from tests.helpers import b64, make_user
from tokens import services
from tokens.serializers import LogoutRequestSerializer, RefreshRequestSerializer

FIXTURES_OK = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=20,
)


def bodies(fields):
    """Dicts that use the serializer's own field names (so validation runs deep) plus noise."""
    return st.one_of(
        json_values,
        st.fixed_dictionaries({}, optional={name: json_values | st.text(max_size=5000) for name in fields}),
    )


@pytest.fixture
def unthrottled(settings):
    settings.FLOWAUTH_THROTTLE_RATES = {scope: "1000000/min" for scope in settings.FLOWAUTH_THROTTLE_RATES}


SERIALIZERS = [
    (RegisterSerializer, ["email", "password", "username"]),
    (LoginSerializer, ["email", "password", "device_name"]),
    (RefreshRequestSerializer, ["refresh"]),
    (LogoutRequestSerializer, ["refresh"]),
    (ProfileSerializer, ["username", "first_name", "last_name", "email", "id", "is_staff", "date_joined"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize("serializer_class, fields", SERIALIZERS, ids=[s.__name__ for s, _ in SERIALIZERS])
def test_serializers_raise_only_validation_errors(serializer_class, fields):
    @FIXTURES_OK
    @given(bodies(fields))
    def check(data):
        serializer = serializer_class(data=data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            pass

    check()


b64url = st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=200)
headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "none", "NoNe", "RS256", "HS512", "ES256", ""]) | json_values},
    optional={"kid": json_values, "typ": json_values, "crit": json_values, "jku": st.text(max_size=50)},
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "exp": st.integers(min_value=-(2**70), max_value=2**70) | json_values,
        "iat": st.integers(min_value=-(2**70), max_value=2**70) | json_values,
        "token_type": st.sampled_from(["access", "refresh"]) | json_values,
        "jti": json_values,
        "user_id": json_values,
        "sid": json_values,
        "refresh_jti": json_values,
    },
)
jwt_like = st.one_of(
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", b64url, b64url, b64url),
    st.builds(lambda h, p, s: f"{b64(h)}.{b64(p)}.{s}", headers, payloads, b64url),
    st.builds(lambda h, p: f"{b64(h)}.{b64(p)}.", headers, payloads),
    st.text(max_size=300),
)


@pytest.mark.django_db
def test_jwt_shaped_strings_never_5xx_at_whoami_or_refresh(unthrottled):
    client, seen = APIClient(), Counter()

    @FIXTURES_OK
    @given(jwt_like)
    def check(token):
        whoami = client.get("/api/auth/whoami", HTTP_AUTHORIZATION=f"Bearer {token}")
        refresh = client.post("/api/auth/refresh", json.dumps({"refresh": token}), content_type="application/json")
        for response in (whoami, refresh):
            seen[response.status_code] += 1
            assert response.status_code < 500, (token, response.content)
        assert whoami.status_code == 401

    check()
    assert not any(status >= 500 for status in seen)


# --- schemathesis ------------------------------------------------------------------

FUZZED: Counter = Counter()


@pytest.fixture
def keep_connection():
    """As Django's test client does: the WSGI handler must not close the test's connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, unthrottled, keep_connection):
    from flowauth.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def bearer_header(db, keep_connection):
    return {"Authorization": f"Bearer {services.issue_session(make_user('fuzz@example.com')).access}"}


@pytest.mark.django_db
def test_schemathesis_finds_no_server_error(api_schema, bearer_header):
    """Every operation the schema has today, ~25 generated requests each.

    Driven by hand (schemathesis' pytest plugin does not load under pytest 9).
    """
    from schemathesis.checks import not_a_server_error

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    for operation in operations:

        @hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(operation.as_strategy())
        def check(case):
            response = case.call(headers={**bearer_header, **(case.headers or {})})
            FUZZED["requests"] += 1
            FUZZED["5xx"] += response.status_code >= 500
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert FUZZED["5xx"] == 0


@pytest.fixture(scope="module", autouse=True)
def _report_fuzzed_requests():
    yield
    if FUZZED:
        print(f"\nschemathesis: {FUZZED['requests']} requests, {FUZZED['5xx']} 5xx")
