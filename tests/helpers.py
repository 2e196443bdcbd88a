"""Test helpers shared by the suite (plain functions, importable from tests)."""

import base64
import json
import threading
from collections.abc import Callable

import jwt as pyjwt
from django.db import connections

from accounts.models import User
from tokens import redis_client as redis_client_module
from tokens import revocation
from tokens.settings import token_settings

PASSWORD = "correct horse battery staple"


def redis():
    return redis_client_module.get_redis()


def mark_cache_complete() -> None:
    client = redis()
    client.ping()
    client.set(revocation.MARKER_KEY, redis_client_module.server_epoch())


def make_user(email: str, password: str = PASSWORD, **extra) -> User:
    return User.objects.create_user(email=email, password=password, **extra)


def login(api, email: str, password: str = PASSWORD, **extra) -> dict:
    response = api.post("/api/auth/login", {"email": email, "password": password, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def session_key_of(access: str) -> str:
    """The revocation key of the session an access token belongs to."""
    from tokens import jwt, revocation

    payload = claims(access)
    return revocation.session_key(payload[jwt.SESSION_CLAIM], payload[jwt.USER_ID_CLAIM])


def refresh_key_of(access: str) -> str:
    """The revocation key of the access token's parent refresh token."""
    from tokens import jwt, revocation

    payload = claims(access)
    return revocation.refresh_key(payload[jwt.PARENT_CLAIM], payload[jwt.USER_ID_CLAIM])


def resign(token: str, *, drop=(), header=None, **changes) -> str:
    """Re-sign a token's claims with the real key after changing them."""
    payload = {k: v for k, v in claims(token).items() if k not in drop}
    payload.update(changes)
    return pyjwt.encode(payload, token_settings.SIGNING_KEY, algorithm="HS256", headers=header)


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def error_code(response) -> str:
    return response.json().get("code")


def burst(tasks: list[Callable[[], object]], *, timeout: float = 60) -> list:
    """Run every task in its own thread, released together by one barrier.

    The suite's one way to make a parallel burst (throttles, rotation races,
    revocation races). Returns the results in order; an exception in any task
    is re-raised here, in the test's thread. Each thread closes its own
    database connections, which would otherwise outlive the test database.
    """
    barrier = threading.Barrier(len(tasks), timeout=timeout)
    results: list = [None] * len(tasks)

    def run(index: int, task: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = task()
        except BaseException as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
