"""POST /api/auth/profile/avatar: real images only, stored under a generated name."""

import io
import os
from pathlib import Path

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import avatars
from accounts.models import User
from tests.helpers import PASSWORD, bearer, login

pytestmark = pytest.mark.django_db

URL = "/api/auth/profile/avatar"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def access(api, user):
    return login(api, user.email)["access"]


def image_bytes(fmt: str = "PNG", size=(64, 48), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def upload(api, access, data: bytes, name: str = "me.png", field: str = "avatar", content_type="image/png"):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return api.post(URL, {field: file}, format="multipart", **bearer(access))


@pytest.mark.parametrize("fmt,extension", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("GIF", "gif")])
def test_accepts_each_allowed_format(api, access, user, media_root, fmt, extension):
    response = upload(api, access, image_bytes(fmt), name="whatever.exe")
    assert response.status_code == 200, response.content
    url = response.json()["avatar_url"]
    assert url.startswith("http://testserver/media/avatars/") and url.endswith(f".{extension}")
    user.refresh_from_db()
    stored = media_root / user.avatar.name
    assert stored.is_file() and "whatever" not in user.avatar.name
    with Image.open(stored) as image:
        assert image.format == fmt and image.size == (64, 48)


def test_served_with_its_content_type_and_nosniff(api, access, client):
    url = upload(api, access, image_bytes("PNG")).json()["avatar_url"]
    response = client.get(url.replace("http://testserver", ""))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_profile_shows_the_same_url(api, access):
    url = upload(api, access, image_bytes("PNG")).json()["avatar_url"]
    assert api.get("/api/auth/profile", **bearer(access)).json()["avatar_url"] == url


def test_replacing_deletes_the_old_file(api, access, user, media_root):
    upload(api, access, image_bytes("PNG"))
    old = media_root / User.objects.get(pk=user.pk).avatar.name
    upload(api, access, image_bytes("JPEG"))
    new = media_root / User.objects.get(pk=user.pk).avatar.name
    assert new.is_file() and not old.exists()
    assert os.listdir(new.parent) == [new.name]


def test_trailing_payload_is_not_stored(api, access, user, media_root):
    polyglot = image_bytes("PNG") + b"<html><script>alert(1)</script></html>"
    assert upload(api, access, polyglot).status_code == 200
    stored = (media_root / User.objects.get(pk=user.pk).avatar.name).read_bytes()
    assert b"<script>" not in stored


def pixel_flood() -> bytes:
    # A small PNG whose header declares 50000x50000 pixels.
    data = bytearray(image_bytes("PNG", size=(1, 1)))
    ihdr = data.index(b"IHDR") + 4
    data[ihdr : ihdr + 8] = (50000).to_bytes(4, "big") + (50000).to_bytes(4, "big")
    import zlib

    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = crc.to_bytes(4, "big")
    return bytes(data)


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
GIF_HTML_POLYGLOT = b"GIF89a/*<html><script>alert(1)</script></html>*/=1;"


@pytest.mark.parametrize(
    "data,message",
    [
        (b"just some text, not an image", "is not a PNG, JPEG, WebP or GIF image"),
        (SVG, "is not a PNG, JPEG, WebP or GIF image"),
        (GIF_HTML_POLYGLOT, "is not a PNG, JPEG, WebP or GIF image"),
        (image_bytes("BMP"), "is not a PNG, JPEG, WebP or GIF image"),
        (image_bytes("PNG")[:60], "damaged or incomplete"),
        (pixel_flood(), "larger than 4096x4096 pixels"),
        (image_bytes("PNG", size=(4097, 1)), "larger than 4096x4096 pixels"),
    ],
)
def test_refuses_what_is_not_a_small_allowed_image(api, access, user, data, message):
    response = upload(api, access, data)
    assert response.status_code == 400, response.content
    assert message in response.json()["avatar"][0]
    assert not User.objects.get(pk=user.pk).avatar


def test_refuses_an_empty_file(api, access):
    response = upload(api, access, b"")
    assert response.status_code == 400
    assert "empty" in response.json()["avatar"][0]


def test_refuses_an_oversized_file(api, access, monkeypatch):
    monkeypatch.setattr(avatars, "MAX_BYTES", 1000)
    response = upload(api, access, image_bytes("PNG", size=(300, 300), compress_level=0))
    assert response.status_code == 400
    assert "larger than 1000 bytes" in response.json()["avatar"][0]


def test_default_size_limit_is_two_mebibytes(api, access):
    response = upload(api, access, b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024))
    assert response.status_code == 400
    assert "larger than 2097152 bytes" in response.json()["avatar"][0]


def test_refuses_the_wrong_field_name(api, access):
    response = upload(api, access, image_bytes("PNG"), field="picture")
    assert response.status_code == 400
    assert list(response.json()) == ["avatar"]


def test_requires_an_access_token(api):
    file = SimpleUploadedFile("a.png", image_bytes("PNG"), content_type="image/png")
    assert api.post(URL, {"avatar": file}, format="multipart").status_code == 401


@pytest.mark.live_server_process
def test_real_server_serves_avatars_with_nosniff(transactional_db, api, user, tmp_path):
    from tests import servers

    media = tmp_path / "served-media"
    with servers.gunicorn(workers=1, threads=2, MEDIA_ROOT=str(media)) as base:
        tokens = httpx.post(f"{base}/api/auth/login", json={"email": user.email, "password": PASSWORD}).json()
        files = {"avatar": ("x.gif", image_bytes("GIF"), "image/gif")}
        uploaded = httpx.post(
            f"{base}/api/auth/profile/avatar", files=files, headers={"Authorization": f"Bearer {tokens['access']}"}
        )
        assert uploaded.status_code == 200, uploaded.text
        served = httpx.get(uploaded.json()["avatar_url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/gif"
    assert served.headers["x-content-type-options"] == "nosniff"
