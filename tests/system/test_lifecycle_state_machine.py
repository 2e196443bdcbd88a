"""The token life cycle as a state machine (docs/security.md FZ-12), on the real Redis and database.

Hypothesis runs random sequences of register, login, refresh, replays in and
out of the grace window, logout, logout-others, logout-all, password change,
deactivation, deletion, Redis flushes and clock moves. After every step,
every access token ever issued is presented: it must be accepted if and only
if the model says its session is live and the token has not expired.
"""

from dataclasses import dataclass, field

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from tests import helpers
from tests.helpers import bearer, claims

GRACE = 10
EXAMPLES = 40
# Counted for the report below: a run that silently explored nothing must fail.
STATS = {"steps": 0, "checks": 0}
ACCESS_LIFETIME = 60


@dataclass
class ModelSession:
    user: "ModelUser"
    live: bool = True
    current_refresh: str = ""
    previous_refresh: str = ""
    previous_used_at: float = 0.0
    used_refreshes: list = field(default_factory=list)


@dataclass
class ModelUser:
    email: str
    password: str
    exists: bool = True
    active: bool = True


@dataclass
class Credential:
    access: str
    session: ModelSession


class TokenLifeCycle(RuleBasedStateMachine):
    serial = 0

    def __init__(self):
        super().__init__()
        self.clock = time_machine.travel(timezone.now(), tick=False)
        self.traveller = self.clock.start()
        self.api = APIClient()
        self.users: list[ModelUser] = []
        self.sessions: list[ModelSession] = []
        self.credentials: list[Credential] = []

    def teardown(self):
        self.clock.stop()

    # --- helpers ------------------------------------------------------------------------------

    def _now(self) -> float:
        return timezone.now().timestamp()

    def _issue(self, user: ModelUser, body: dict) -> None:
        session = ModelSession(user=user, current_refresh=body["refresh"])
        self.sessions.append(session)
        self.credentials.append(Credential(body["access"], session))

    def _accepted_now(self, credential: Credential) -> bool:
        return self.api.get("/api/auth/whoami", **bearer(credential.access)).status_code == 200

    def _end_user(self, user: ModelUser, keep: ModelSession | None = None) -> None:
        for session in self.sessions:
            if session.user is user and session is not keep:
                session.live = False

    def _pick(self, items, index):
        return items[index % len(items)]

    # --- rules --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.users) < 3)
    @rule()
    def register(self):
        TokenLifeCycle.serial += 1
        user = ModelUser(f"machine{TokenLifeCycle.serial}@example.com", f"first passphrase {TokenLifeCycle.serial}")
        response = self.api.post("/api/auth/register", {"email": user.email, "password": user.password}, format="json")
        assert response.status_code == 201, response.content
        self.users.append(user)
        self._issue(user, response.json())

    @precondition(lambda self: self.users)
    @rule(index=st.integers(0, 99))
    def login(self, index):
        user = self._pick(self.users, index)
        response = self.api.post("/api/auth/login", {"email": user.email, "password": user.password}, format="json")
        if user.exists and user.active:
            assert response.status_code == 200, response.content
            self._issue(user, response.json())
        else:
            assert response.status_code == 401

    @precondition(lambda self: self.sessions)
    @rule(index=st.integers(0, 99))
    def refresh(self, index):
        session = self._pick(self.sessions, index)
        response = self.api.post("/api/auth/refresh", {"refresh": session.current_refresh}, format="json")
        expires = claims(session.current_refresh)["exp"]
        if session.live and self._now() < expires:
            assert response.status_code == 200, response.content
            body = response.json()
            session.used_refreshes.append(session.current_refresh)
            session.previous_refresh, session.previous_used_at = session.current_refresh, self._now()
            session.current_refresh = body["refresh"]
            self.credentials.append(Credential(body["access"], session))
        else:
            assert response.status_code == 401, response.content

    @precondition(lambda self: any(s.used_refreshes for s in self.sessions))
    @rule(index=st.integers(0, 99), which=st.integers(0, 99))
    def replay(self, index, which):
        session = self._pick([s for s in self.sessions if s.used_refreshes], index)
        replayed = self._pick(session.used_refreshes, which)
        response = self.api.post("/api/auth/refresh", {"refresh": replayed}, format="json")
        in_grace = replayed == session.previous_refresh and self._now() <= session.previous_used_at + GRACE
        if session.live and in_grace:
            assert response.status_code == 200, response.content
            body = response.json()
            assert body["refresh"] == session.current_refresh  # the winner's token, not a new branch
            self.credentials.append(Credential(body["access"], session))
        else:
            assert response.status_code == 401, response.content
            session.live = False  # reuse ends the session (or it had ended already)

    def _authenticated_rule(self, index, call):
        credential = self._pick(self.credentials, index)
        was_accepted = self._accepted_now(credential)
        response = call(credential)
        assert response.status_code in ((200, 204) if was_accepted else (401,)), response.content
        return credential if was_accepted else None, response

    @precondition(lambda self: self.credentials)
    @rule(index=st.integers(0, 99))
    def logout(self, index):
        credential, _ = self._authenticated_rule(index, lambda c: self.api.post("/api/auth/logout", **bearer(c.access)))
        if credential:
            credential.session.live = False

    @precondition(lambda self: self.credentials)
    @rule(index=st.integers(0, 99))
    def logout_others(self, index):
        credential, _ = self._authenticated_rule(
            index, lambda c: self.api.post("/api/auth/logout-others", **bearer(c.access))
        )
        if credential:
            self._end_user(credential.session.user, keep=credential.session)

    @precondition(lambda self: self.credentials)
    @rule(index=st.integers(0, 99))
    def logout_all(self, index):
        credential, _ = self._authenticated_rule(
            index, lambda c: self.api.post("/api/auth/logout-all", **bearer(c.access))
        )
        if credential:
            self._end_user(credential.session.user)

    @precondition(lambda self: self.credentials)
    @rule(index=st.integers(0, 99))
    def change_password(self, index):
        TokenLifeCycle.serial += 1
        new_password = f"changed passphrase {TokenLifeCycle.serial}"
        credential = self._pick(self.credentials, index)
        old_password = credential.session.user.password
        credential, response = self._authenticated_rule(
            index,
            lambda c: self.api.put(
                "/api/auth/profile/password",
                {"current_password": old_password, "new_password": new_password},
                format="json",
                **bearer(c.access),
            ),
        )
        if credential:
            user = credential.session.user
            user.password = new_password
            self._end_user(user)
            self._issue(user, response.json())

    @precondition(lambda self: any(u.exists and u.active for u in self.users))
    @rule(index=st.integers(0, 99))
    def deactivate(self, index):
        user = self._pick([u for u in self.users if u.exists and u.active], index)
        get_user_model().objects.filter(email=user.email).update(is_active=False)
        user.active = False
        self._end_user(user)

    @precondition(lambda self: any(u.exists for u in self.users))
    @rule(index=st.integers(0, 99))
    def delete(self, index):
        user = self._pick([u for u in self.users if u.exists], index)
        get_user_model().objects.filter(email=user.email).delete()
        user.exists = False
        self._end_user(user)

    @rule()
    def redis_loses_its_data(self):
        helpers.redis().flushdb()

    @rule(seconds=st.sampled_from([1, 4, 9, 11, 30, 61]))
    def clock_moves(self, seconds):
        self.traveller.shift(seconds)

    # --- the invariant ------------------------------------------------------------------------

    @invariant()
    def accepted_exactly_when_the_model_says_live(self):
        now = self._now()
        STATS["steps"] += 1
        STATS["checks"] += len(self.credentials)
        for credential in self.credentials:
            expected = credential.session.live and now < claims(credential.access)["exp"]
            assert self._accepted_now(credential) == expected, (credential.session, expected)


@pytest.mark.timeout(900)  # a fixed example budget: about a minute on SQLite, a few on a loaded server
@pytest.mark.django_db(transaction=True)
def test_a_credential_is_accepted_if_and_only_if_the_model_says_it_is_live(token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=ACCESS_LIFETIME, REFRESH_GRACE_SECONDS=GRACE)
    run_state_machine_as_test(
        TokenLifeCycle,
        settings=hypothesis_settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"state machine: {STATS['steps']} steps, {STATS['checks']} credential checks")
    assert STATS["steps"] >= EXAMPLES * 10 and STATS["checks"] >= STATS["steps"]
