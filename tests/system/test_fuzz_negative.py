"""Negative fuzzing over every operation of /api/schema/: bodies that do not fit the schema,
every JSON type as the body, missing and extra fields, wrong content types. 0 5xx.

Bounded and deterministic: a fixed example budget per operation and
Hypothesis' derandomized generation, so a CI run sends the same cases each time.
"""

import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.test import APIClient
from schemathesis import GenerationMode

from tests.helpers import make_user
from tokens import services

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 12
SENT: Counter = Counter()
JSON_BODIES = [
    "null",
    "0",
    "-1.5",
    '"text"',
    "[]",
    "[1, {}]",
    "true",
    "false",
    "{}",
    '{"unexpected": "field", "is_staff": true}',
]
CONTENT_TYPES = [
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin-1",
]


@pytest.fixture
def unthrottled(settings):
    settings.FLOWAUTH_THROTTLE_RATES = {scope: "1000000/min" for scope in settings.FLOWAUTH_THROTTLE_RATES}


@pytest.fixture
def keep_connection():
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def operations(db, unthrottled, keep_connection):
    from flowauth.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 20, "the schema lists fewer operations than the API has"
    return found


@pytest.fixture
def access(db):
    return services.issue_session(make_user("negative@example.com", is_staff=True)).access


def _record(status: int, what: str) -> None:
    SENT["cases"] += 1
    SENT["5xx"] += status >= 500
    assert status < 500, what


def test_schemathesis_negative_cases_find_no_server_error(operations, access):
    from schemathesis.checks import not_a_server_error

    for operation in operations:

        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def check(case):
            response = case.call(headers={**(case.headers or {}), "Authorization": f"Bearer {access}"})
            SENT["schemathesis"] += 1
            # Run at once below, inside this iteration: the loop variable is the one meant.
            _record(response.status_code, f"{operation.label}: {case.body!r:.200}")  # noqa: B023
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Unsatisfiable:  # nothing in this operation can be made invalid (no body, no parameters)
            SENT["operations_without_negative_cases"] += 1
    assert SENT["5xx"] == 0


def test_every_operation_with_every_json_type_and_content_type_is_a_4xx(operations, access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    for operation in operations:
        method, path = operation.method.lower(), operation.path.replace("{id}", "0" * 32)
        for body in JSON_BODIES:
            response = client.generic(method.upper(), path, body, content_type="application/json")
            _record(response.status_code, f"{operation.label} {body}")
        for content_type in CONTENT_TYPES:
            response = client.generic(method.upper(), path, json.dumps({"refresh": "x"}), content_type=content_type)
            _record(response.status_code, f"{operation.label} {content_type}")
        if method in ("post", "put", "patch"):
            for body in ("", "{}", '{"email": 1}'):
                response = client.generic(method.upper(), path, body, content_type="application/json")
                _record(response.status_code, f"{operation.label} missing/typed fields {body}")
    assert SENT["5xx"] == 0


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if SENT:
        print(
            f"\nnegative fuzzing: {SENT['cases']} cases ({SENT['schemathesis']} from schemathesis), {SENT['5xx']} 5xx"
        )
