from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("path", ["/", "/health", "/api/v1/stakeholders", "/api/v1/nothing"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers

    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    csp = headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp


def test_api_docs_get_a_csp_that_lets_swagger_load(client: TestClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]

    assert "https:" not in csp
    assert "unsafe-eval" not in csp
