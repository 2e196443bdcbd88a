"""GET /api/auth/profile from Redis: hit, miss, and invalidation on every change."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import profile_cache
from tests.helpers import PASSWORD, bearer, login

pytestmark = pytest.mark.django_db

PROFILE = "/api/auth/profile"


@pytest.fixture
def access(api, user):
    return login(api, user.email)["access"]


def cached(redis_client, user) -> dict | None:
    raw = redis_client.get(profile_cache.PREFIX + str(user.pk))
    return json.loads(raw) if raw else None


def test_a_miss_fills_the_cache_and_a_hit_costs_no_query(api, access, user, redis_client, django_assert_num_queries):
    assert cached(redis_client, user) is None
    first = api.get(PROFILE, **bearer(access))
    assert first.status_code == 200
    assert cached(redis_client, user) == first.json()
    with django_assert_num_queries(0):
        second = api.get(PROFILE, **bearer(access))
    assert second.json() == first.json()


def test_the_entry_expires_after_thirty_minutes_and_holds_no_secrets(api, access, user, redis_client):
    api.get(PROFILE, **bearer(access))
    key = profile_cache.PREFIX + str(user.pk)
    assert 1790 <= redis_client.ttl(key) <= 1800
    entry = cached(redis_client, user)
    assert set(entry) == {
        "id",
        "email",
        "username",
        "first_name",
        "last_name",
        "avatar_url",
        "date_joined",
        "email_verified",
    }
    assert "argon2" not in str(redis_client.get(key))


def test_a_profile_change_invalidates(api, access, user, redis_client):
    api.get(PROFILE, **bearer(access))
    api.patch(PROFILE, {"first_name": "Alice"}, format="json", **bearer(access))
    assert cached(redis_client, user) is None
    assert api.get(PROFILE, **bearer(access)).json()["first_name"] == "Alice"


def test_an_avatar_change_invalidates(api, access, user, redis_client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    api.get(PROFILE, **bearer(access))
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG")
    file = SimpleUploadedFile("a.png", out.getvalue(), content_type="image/png")
    url = api.post("/api/auth/profile/avatar", {"avatar": file}, format="multipart", **bearer(access)).json()
    assert cached(redis_client, user) is None
    assert api.get(PROFILE, **bearer(access)).json()["avatar_url"] == url["avatar_url"]


def test_a_password_change_invalidates(api, access, user, redis_client):
    api.get(PROFILE, **bearer(access))
    body = {"current_password": PASSWORD, "new_password": "another long passphrase 7"}
    fresh = api.put("/api/auth/profile/password", body, format="json", **bearer(access)).json()
    assert cached(redis_client, user) is None
    assert api.get(PROFILE, **bearer(fresh["access"])).status_code == 200


def test_users_never_see_each_others_cached_profile(api, access, user, other_user):
    api.get(PROFILE, **bearer(access))
    bob = login(api, other_user.email)
    assert api.get(PROFILE, **bearer(bob["access"])).json()["email"] == other_user.email


def test_a_revoked_session_cannot_read_the_cached_profile(api, access):
    api.get(PROFILE, **bearer(access))
    api.post("/api/auth/logout", **bearer(access))
    assert api.get(PROFILE, **bearer(access)).status_code == 401
