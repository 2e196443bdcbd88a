"""Headers and query strings from outside, as raw bytes through real gunicorn:
non-ASCII bytes, duplicates, odd charsets and odd credentials. Never a 5xx; JSON on /api/."""

import socket

import pytest
from rest_framework.test import APIClient

from tests.servers import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

BODY = b'{"email": "a@example.com", "password": "x", "refresh": "x", "token": "x"}'
PATHS = [
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/introspect",
    "/api/auth/revoke",
    "/api/session/login",
    "/api/auth/whoami",
    "/api/auth/logout",
    "/api/auth/profile",
]
RAW_HEADERS = {
    "authorization_non_ascii": [b"Authorization: Bearer \xff\xfe\x80"],
    "basic_non_ascii": [b"Authorization: Basic \xff\xfe"],
    "basic_not_utf8": [b"Authorization: Basic /w=="],
    "authorization_twice": [b"Authorization: Bearer a.b.c", b"Authorization: Bearer d.e.f"],
    "mode_non_ascii": [b"X-Auth-Mode: cookie\xff"],
    "cookie_non_ascii": [b"Cookie: flowauth_refresh=\xff\xfe; csrftoken=\xff"],
    "forwarded_junk": [b"X-Forwarded-For: \xff, 1.2.3.4, ::::"],
    "long_user_agent": [b"User-Agent: " + b"\xff" * 8000],
    "host_non_ascii": [b"Host: \xff.example"],
    "charset_unknown": [b"Content-Type: application/json; charset=nope"],
    "charset_utf16": [b"Content-Type: application/json; charset=utf-16"],
    "multipart_no_boundary": [b"Content-Type: multipart/form-data"],
    "multipart_odd_boundary": [b"Content-Type: multipart/form-data; boundary=\xff"],
    "form_odd_charset": [b"Content-Type: application/x-www-form-urlencoded; charset=nope"],
}
QUERIES = [b"?%ff%fe=%00", b"?a=" + b"x" * 6000, b"?access_token=a.b.c&access_token=d", b"?\xff"]


@pytest.fixture(scope="module")
def server(django_db_blocker):
    with django_db_blocker.unblock():
        with gunicorn(workers=1, threads=2) as base:
            yield int(base.rsplit(":", 1)[1])


def _send(port: int, path: bytes, headers: list[bytes]) -> tuple[int, bytes]:
    has_host = any(h.lower().startswith(b"host:") for h in headers)
    has_type = any(h.lower().startswith(b"content-type:") for h in headers)
    lines = [
        b"POST " + path + b" HTTP/1.1",
        *([] if has_host else [b"Host: 127.0.0.1"]),
        *([] if has_type else [b"Content-Type: application/json"]),
        *headers,
        b"Content-Length: %d" % len(BODY),
        b"Connection: close",
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + BODY)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head + b"\r\n\r\n" + body


@pytest.mark.parametrize("name", RAW_HEADERS)
def test_odd_header_bytes_are_never_a_5xx(server, name):
    for path in PATHS:
        status, answer = _send(server, path.encode(), RAW_HEADERS[name])
        assert status < 500, (name, path, answer[:400])
        if status >= 400 and b"Server: gunicorn" in answer and b"Content-Type: text/html" not in answer:
            assert b"application/json" in answer, (name, path, answer[:400])


@pytest.mark.parametrize("query", QUERIES)
def test_odd_query_strings_are_never_a_5xx(server, query):
    for path in PATHS:
        status, answer = _send(server, path.encode() + query, [])
        assert status < 500, (query, path, answer[:400])


def test_non_ascii_basic_credentials_at_introspect_are_invalid_client():
    response = APIClient().post(
        "/api/auth/introspect", {"token": "x"}, format="json", HTTP_AUTHORIZATION="Basic \xff\xfe"
    )
    assert (response.status_code, response.json()["code"]) == (401, "invalid_client")


@pytest.mark.parametrize("charset", ["nope", "utf-16", "utf-32", "latin-1"])
def test_a_json_body_in_any_declared_charset_is_a_4xx_or_read(charset):
    response = APIClient().generic(
        "POST",
        "/api/auth/login",
        '{"email": "a@example.com", "password": "x"}'.encode("utf-16" if charset.startswith("utf-16") else "utf-8"),
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code in (400, 401, 415), response.content
    assert response["Content-Type"].startswith("application/json")
