from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_answers_ok_with_the_version(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_lists_every_api_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for resource in ("stakeholders", "interactions", "surveys", "responses"):
        assert "get" in paths[f"/api/v1/{resource}"]
        assert f"/api/v1/{resource}/{{{resource[:-1]}_id}}" in paths
    assert "post" in paths["/api/v1/interactions"]
    interaction_filters = {p["name"] for p in paths["/api/v1/interactions"]["get"]["parameters"]}
    assert {"limit", "offset", "channel", "occurred_from", "occurred_to"} <= interaction_filters


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_unknown_api_path_answers_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert "detail" in response.json()
