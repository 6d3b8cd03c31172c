from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_a_served_app_keeps_its_start_up_heap_out_of_the_collector(tmp_path: Path) -> None:
    # In a process of its own: the test process has started apps before this one.
    script = textwrap.dedent(
        """
        import gc, sys
        from fastapi.testclient import TestClient
        from cpxm.app import create_app
        from cpxm.db import make_engine
        from cpxm.migrate import upgrade_database

        engine = make_engine("sqlite:///" + sys.argv[1])
        upgrade_database(engine)
        before = gc.get_freeze_count()
        with TestClient(create_app(engine=engine)) as client:
            assert client.get("/health").status_code == 200
            first = gc.get_freeze_count()
        with TestClient(create_app(engine=engine)):
            second = gc.get_freeze_count()
        print(before, first, second)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "store.db")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    before, first, second = (int(n) for n in result.stdout.split())

    assert before == 0
    assert first > 50_000  # the modules, routes and models of the whole app
    # Once per process: a later app is not frozen (the count only falls, as frozen objects of
    # the first app are freed by reference counting).
    assert second <= first
