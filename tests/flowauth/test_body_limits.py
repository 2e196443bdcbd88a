"""Bodies of any size are refused before they are read whole (docs/api.md "Conventions").

Through real gunicorn with raw sockets, so the test controls what is sent: the
client declares (or streams) far more than the cap, sends a little, stops, and
must get its 413 and a closed connection without sending the rest.
"""

import json
import socket

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.helpers import bearer, error_code, login
from tests.servers import gunicorn
from tokens import services

pytestmark = pytest.mark.django_db(transaction=True)  # the servers write: nothing may hold the lock
HUGE = 500 * 1024 * 1024
BOUNDARY = "flowauthboundary"


def _multipart_head(path: str, headers: dict) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _first_part() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()


def _read_answer(sock: socket.socket) -> bytes:
    """Everything until the server closes; a server still waiting for the body times out instead."""
    sock.settimeout(15)
    received = b""
    while True:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        received += piece
    return received


def _body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


@pytest.fixture(scope="module")
def server(django_db_blocker):
    with django_db_blocker.unblock():
        with gunicorn(workers=1, threads=2) as base:
            yield base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=15)


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/profile/avatar"])
def test_a_declared_500_mb_body_is_413_after_a_few_kilobytes(server, user, path):
    headers = {"Content-Length": str(HUGE), **{"Authorization": f"Bearer {services.issue_session(user).access}"}}
    with _connect(server) as sock:
        sock.sendall(_multipart_head(path, headers) + _first_part() + b"\x89PNG" + b"x" * 65536)
        answer = _read_answer(sock)  # the server closed: it did not wait for the other 499.9 MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _body_of(answer) == {"detail": "The request body is too large.", "code": "request_too_large"}


def test_a_chunked_body_past_the_cap_is_cut_off(server, user):
    headers = {"Transfer-Encoding": "chunked", "Authorization": f"Bearer {services.issue_session(user).access}"}
    chunk = b"x" * 65536
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_multipart_head("/api/auth/profile/avatar", headers))
        while sent <= settings.REQUEST_BODY_MAX_BYTES + 4 * len(chunk):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        answer = _read_answer(sock)  # no terminating chunk was sent: only the cap can have ended the read
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _body_of(answer)["code"] == "request_too_large"
    assert sent < HUGE


def test_a_small_chunked_body_is_read_and_answered(server, user):
    body = json.dumps({"email": user.email, "password": "wrong password"}).encode()
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with _connect(server) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]
    assert _body_of(answer)["code"] == "invalid_credentials"  # the body was read, not taken as empty


def test_a_content_length_that_is_not_a_number_is_400(server):
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 12abc\r\n\r\n{}"
        )
        answer = _read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


# In process (Django's test client): the middleware and the upload handler, each alone.


def test_an_oversize_multipart_login_is_413_in_process(api, user):
    upload = SimpleUploadedFile("big.bin", b"x" * (settings.REQUEST_BODY_MAX_BYTES + 1))
    response = api.post("/api/auth/login", {"email": user.email, "password": "x", "file": upload}, format="multipart")
    assert (response.status_code, error_code(response)) == (413, "request_too_large")


def test_the_upload_handler_alone_stops_an_oversize_avatar(api, user, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "flowauth.bodylimit.BodyLimitMiddleware"]
    access = login(api, user.email)["access"]
    upload = SimpleUploadedFile("a.png", b"\x89PNG" + b"x" * settings.REQUEST_BODY_MAX_BYTES)
    response = api.post("/api/auth/profile/avatar", {"avatar": upload}, format="multipart", **bearer(access))
    assert (response.status_code, error_code(response)) == (413, "request_too_large")
    user.refresh_from_db()
    assert not user.avatar


def test_an_avatar_under_the_cap_but_over_its_own_limit_is_400_on_avatar(api, user):
    from accounts.avatars import MAX_BYTES

    access = login(api, user.email)["access"]
    upload = SimpleUploadedFile("a.png", b"\x89PNG" + b"x" * MAX_BYTES)
    response = api.post("/api/auth/profile/avatar", {"avatar": upload}, format="multipart", **bearer(access))
    assert response.status_code == 400 and "avatar" in response.json()
