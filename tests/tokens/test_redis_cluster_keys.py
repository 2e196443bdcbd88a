"""REDIS_URL=redis+cluster://...: parsed strictly, and the keys of one request in one slot.

The cluster itself (real processes) is exercised by
tests/system/test_scaleout_cluster.py; these are the parts that need none.
"""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from flowauth import redis_url
from tests.servers import cache_settings_with
from tokens import revocation


def test_nodes_and_credentials_are_read():
    parsed = redis_url.parse_cluster("redis+cluster://app:s%40cret@10.0.0.1:7000,[::1]:7001,node-c")
    assert parsed.nodes == (("10.0.0.1", 7000), ("::1", 7001), ("node-c", 6379))
    assert parsed.server_kwargs() == {"username": "app", "password": "s@cret"}
    assert "s@cret" not in repr(parsed)


def test_no_credentials_are_invented():
    assert redis_url.parse_cluster("redis+cluster://a:1").server_kwargs() == {}
    assert redis_url.parse_cluster("redis+cluster://a:1/").nodes == (("a", 1),)


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",  # no node
        "redis+cluster://,",
        "redis+cluster://a:1/0",  # a cluster has no database numbers
        "redis+cluster://a:1/x/y",
        "redis+cluster://a:0",  # port out of range
        "redis+cluster://a:65536",
        "redis+cluster://a:port",
        "redis+cluster://a:\u0661\u0662",  # digits, but not ASCII ones
        "redis+cluster://a:-1",
        "redis+cluster://:1",  # empty host
        "redis+cluster://[::1",  # unclosed bracket
        "redis+cluster://[::1]:x",
        "redis+cluster://a:1?read_from_replicas=yes",  # no options
        "redis+sentinel://a:1/svc",  # not this scheme
    ],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        redis_url.parse_cluster(url)


def test_only_the_cluster_scheme_is_recognised():
    assert redis_url.is_cluster("redis+cluster://a:1") and redis_url.is_cluster("REDIS+CLUSTER://a:1")
    assert not any(redis_url.is_cluster(u) for u in ("redis://a/0", "redis+sentinel://a/s", "unix:///r.sock", ""))


def test_the_cache_and_sessions_use_the_cluster_factory_with_the_whole_url():
    done = cache_settings_with("redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    assert done.returncode == 0, done.stderr
    location, factory, _, client_class, token_url, engine = json.loads(done.stdout)
    # One entry: django-redis would read a comma-separated string as a primary and replicas.
    assert location == ["redis+cluster://127.0.0.1:7000,127.0.0.1:7001"]
    assert factory == "flowauth.cluster_cache.ClusterConnectionFactory"
    assert client_class == "django_redis.client.DefaultClient"
    assert token_url == location[0]
    assert engine == "django.contrib.sessions.backends.cache"


def test_a_malformed_cluster_url_stops_startup_naming_the_setting():
    done = cache_settings_with("redis+cluster://127.0.0.1:7000/3")
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr


def test_every_slot_has_a_tag_that_lands_in_it():
    tags = revocation._slot_tags()
    assert len(tags) == REDIS_CLUSTER_HASH_SLOTS
    assert [key_slot(tag.encode()) for tag in tags] == list(range(REDIS_CLUSTER_HASH_SLOTS))
    for slot in (0, 1, 8191, REDIS_CLUSTER_HASH_SLOTS - 1):
        for name in ("complete", "since", "rebuild-guard"):
            key = revocation.slot_key(slot, name)
            assert key.startswith(revocation.PREFIX) and key_slot(key.encode()) == slot


USER_IDS = ["7", "0", "18446744073709551615", "65f1c0ffee0123456789abcd", "a}b", "{", "}", "x{y}z", "é", "\U0001f600"]


@pytest.mark.parametrize("user_id", USER_IDS)
def test_the_keys_one_request_reads_share_one_slot_with_their_marker(user_id, token_settings):
    token_settings(REDIS_URL="redis+cluster://127.0.0.1:1")  # no connection is opened to read key names
    keys = [
        revocation.session_key("f" * 32, user_id),
        revocation.refresh_key("e" * 32, user_id),
        revocation.cutoff_key(user_id),
    ]
    marker = revocation.marker_key(keys[-1])
    assert marker != revocation.MARKER_KEY
    assert len({key_slot(key.encode()) for key in [*keys, marker, revocation.since_key(keys[-1])]}) == 1
    assert all(key.startswith(revocation.PREFIX) for key in keys)  # what the tracking prefix watches


def test_user_ids_that_differ_never_share_a_key():
    ids = [*USER_IDS, "%7B", "%7D", "%", "%25", "a%7Db"]
    assert len({revocation.cutoff_key(user_id) for user_id in ids}) == len(ids)


def test_one_server_keeps_its_one_marker(token_settings):
    token_settings(REDIS_URL="redis://127.0.0.1:1/0")
    assert revocation.marker_key(revocation.cutoff_key("7")) == revocation.MARKER_KEY
    assert revocation.since_key(revocation.cutoff_key("7")) == revocation.SINCE_KEY
