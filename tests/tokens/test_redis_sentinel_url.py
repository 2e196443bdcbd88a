"""REDIS_URL=redis+sentinel://...: parsed strictly, and wired to every Redis use."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from flowauth import redis_url
from tests.servers import cache_settings_with


def test_hosts_service_db_and_passwords_are_read():
    parsed = redis_url.parse(
        "redis+sentinel://:s%40cret@10.0.0.1:26380,[::1]:26381,sentinel-c/flowauth/3?sentinel_password=sp"
    )
    assert parsed.sentinels == (("10.0.0.1", 26380), ("::1", 26381), ("sentinel-c", 26379))
    assert (parsed.service, parsed.db, parsed.password, parsed.username) == ("flowauth", 3, "s@cret", None)
    assert parsed.sentinel_kwargs(1.5) == {"socket_timeout": 1.5, "socket_connect_timeout": 1.5, "password": "sp"}
    assert parsed.server_kwargs() == {"db": 3, "password": "s@cret"}
    assert parsed.django_redis_location() == "redis://:s%40cret@flowauth/3"


def test_database_defaults_to_zero_and_no_credentials_are_invented():
    parsed = redis_url.parse("redis+sentinel://a:1/svc")
    assert (parsed.db, parsed.password, parsed.sentinel_password) == (0, None, None)
    assert parsed.django_redis_location() == "redis://svc/0"
    assert parsed.server_kwargs() == {"db": 0}


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel:///svc",  # no Sentinel
        "redis+sentinel://a:1",  # no service
        "redis+sentinel://a:1/",  # no service
        "redis+sentinel://a:1/svc/x",  # database not a number
        "redis+sentinel://a:1/svc/0/extra",  # too many parts
        "redis+sentinel://a:0/svc",  # port out of range
        "redis+sentinel://a:70000/svc",
        "redis+sentinel://a:port/svc",
        "redis+sentinel://:1/svc",  # empty host
        "redis+sentinel://a:1/svc?socket_timeout=9",  # unknown option
        "redis+sentinel://[::1/svc",  # unclosed IPv6 bracket
        "redis://a:1/0",  # not this scheme
    ],
)
def test_malformed_urls_are_refused_at_startup(url):
    with pytest.raises(ImproperlyConfigured):
        redis_url.parse(url)


def test_only_the_sentinel_scheme_is_recognised():
    assert redis_url.is_sentinel("redis+sentinel://a/b") and redis_url.is_sentinel("REDIS+SENTINEL://a/b")
    assert not any(redis_url.is_sentinel(u) for u in ("redis://a/0", "rediss://a/0", "unix:///tmp/r.sock", ""))


def test_the_cache_sessions_and_throttles_follow_the_sentinels_primary_only():
    import json

    done = cache_settings_with("redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/flowauth/2")
    assert done.returncode == 0, done.stderr
    location, factory, sentinels, client_class, token_url, engine = json.loads(done.stdout)
    assert location == "redis://flowauth/2"
    assert factory == "django_redis.pool.SentinelConnectionFactory"
    assert sentinels == [["127.0.0.1", 26379], ["127.0.0.1", 26380]]
    # Not django-redis' SentinelClient: it reads from replicas, which may lag behind a logout.
    assert client_class == "django_redis.client.DefaultClient"
    assert token_url.startswith("redis+sentinel://")
    assert engine == "django.contrib.sessions.backends.cache"


def test_a_malformed_sentinel_url_stops_startup_naming_the_setting():
    done = cache_settings_with("redis+sentinel://127.0.0.1:26379")
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr
