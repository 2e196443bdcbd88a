"""The completeness marker names the server and its replication history, not just the process.

A replica holds a copy of its primary's marker. Promoted, it must not trust
it: what the primary acknowledged last may never have reached it. A primary
demoted and promoted again keeps its run_id, but its data then came from
another server: it must not trust its old marker either.
"""

import pytest

from tests.helpers import make_user
from tests.redis_sentinel import wait_for
from tests.redis_server import throwaway_redis
from tokens import revocation, services
from tokens.redis_client import refresh_server_state

pytestmark = pytest.mark.django_db


def _dir(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return path


def _replicate(replica, primary) -> None:
    replica.client().replicaof("127.0.0.1", primary.port)
    wait_for(lambda: replica.client().info("replication")["master_link_status"] == "up", 20, "the replica to sync")


def _revoked_in_database_only(email: str):
    user = make_user(email)
    pair = services.issue_session(user)
    services.revoke_session(pair.session, reason="logout")
    return revocation.session_key(str(pair.session.pk), user.pk)


def test_a_promoted_replica_rebuilds_instead_of_trusting_the_copied_marker(tmp_path, token_settings):
    with throwaway_redis(_dir(tmp_path, "a")) as primary, throwaway_redis(_dir(tmp_path, "b")) as replica:
        _replicate(replica, primary)
        primary.client().set(revocation.MARKER_KEY, primary.epoch())
        wait_for(lambda: replica.client().get(revocation.MARKER_KEY) == primary.epoch(), 20, "the marker to replicate")
        token_settings(REDIS_URL=primary.url)
        key = _revoked_in_database_only("lagging@example.com")
        primary.client().delete(key)  # acknowledged by the database, never reached this replica

        replica.client().replicaof("NO", "ONE")
        token_settings(REDIS_URL=replica.url)
        state = refresh_server_state()
        assert state.epoch != replica.client().get(revocation.MARKER_KEY)
        revocation.ensure_complete(state)
        assert replica.client().exists(key)
        assert replica.client().get(revocation.MARKER_KEY) == replica.epoch()


def test_a_primary_demoted_and_promoted_again_does_not_trust_its_own_old_marker(tmp_path, token_settings):
    with throwaway_redis(_dir(tmp_path, "a")) as first, throwaway_redis(_dir(tmp_path, "b")) as second:
        token_settings(REDIS_URL=first.url)
        old = refresh_server_state().epoch
        first.client().set(revocation.MARKER_KEY, old)
        # The other server took over without a rebuild and now holds that same marker ...
        second.client().set(revocation.MARKER_KEY, old)
        key = _revoked_in_database_only("demoted@example.com")
        first.client().delete(key)
        second.client().delete(key)
        # ... and the first comes back as its replica, then is promoted again: same process, same run_id.
        run_id = first.run_id()
        _replicate(first, second)
        first.client().replicaof("NO", "ONE")
        assert first.run_id() == run_id
        state = refresh_server_state()
        assert first.client().get(revocation.MARKER_KEY) == old != state.epoch
        revocation.ensure_complete(state)
        assert first.client().exists(key)
