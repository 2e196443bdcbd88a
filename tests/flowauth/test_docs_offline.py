"""/api/docs/ works offline: Swagger UI's assets come from drf-spectacular-sidecar, served by FlowAuth."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _page() -> str:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_docs_page_references_no_other_host():
    page = _page()
    assert not re.search(r"(?:https?:)?//(?!127\.0\.0\.1|localhost|testserver)[a-z0-9.-]+\.[a-z]{2,}", page), (
        re.findall(r"(?:https?:)?//[^\s\"']+", page)
    )
    assert "swagger-ui-dist@" not in page and "cdn.jsdelivr" not in page


def test_every_asset_the_docs_page_loads_is_served_here():
    page = _page()
    assets = [url for url in ASSET.findall(page) if url.startswith("/static/")]
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets), assets
    assert any(url.endswith(".css") for url in assets), assets
    for url in assets:
        response = Client().get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100, url
    assert Client().get("/api/schema/").status_code == 200  # what the UI then fetches
