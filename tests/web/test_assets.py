from __future__ import annotations

import gzip

import altair as alt
import vl_convert
from fastapi.testclient import TestClient

from cpxm.web.assets import vega_embed_url, vega_lite_version


def test_altair_schema_version_is_one_the_bundle_renders() -> None:
    assert vega_lite_version() in vl_convert.get_vegalite_versions()
    assert alt.SCHEMA_VERSION.lstrip("v").startswith(vega_lite_version() + ".")


def test_vendor_bundle_is_served_with_immutable_cache_headers(client: TestClient) -> None:
    response = client.get(vega_embed_url(), headers={"Accept-Encoding": "identity"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["etag"].startswith('"')
    assert "window.vegaEmbed" in response.text
    assert len(response.content) > 500_000


def test_vendor_bundle_answers_304_to_a_matching_etag(client: TestClient) -> None:
    etag = client.get(vega_embed_url()).headers["etag"]

    response = client.get(vega_embed_url(), headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_vendor_bundle_is_gzipped_for_clients_that_accept_it(client: TestClient) -> None:
    response = client.get(vega_embed_url(), headers={"Accept-Encoding": "gzip"})
    raw = client.get(vega_embed_url(), headers={"Accept-Encoding": "identity"})

    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(raw.content) / 2
    assert response.headers["vary"] == "Accept-Encoding"
    # httpx decodes transparently; the body is the same script either way.
    assert response.content == raw.content
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


def test_our_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/static/cpxm.css")

    assert response.status_code == 200
    assert ".site-header" in response.text
