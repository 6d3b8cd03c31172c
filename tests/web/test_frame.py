"""The app's frame: a nav per role with no link that answers 403, HTML error pages for pages
(JSON for the API), a favicon, and API docs served from this server, not a CDN."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from cpxm.access import PUBLIC, ROLES, requires

HTML = {"Accept": "text/html,application/xhtml+xml"}
NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)


def _nav_links(page: str) -> list[str]:
    found = NAV.search(page)
    assert found, "the page has no main nav"
    return re.findall(r'href="([^"]+)"', found.group(1))


@pytest.mark.parametrize("role", ROLES)
def test_the_nav_of_each_role_links_only_to_pages_it_may_open(
    role: str, client_as: Callable[[str], TestClient]
) -> None:
    client = client_as(role)
    overview = client.get("/", headers=HTML)
    assert overview.status_code == 200
    links = _nav_links(overview.text)
    assert "/" in links and "/docs" in links
    for link in links:
        answer = client.get(link, headers=HTML, follow_redirects=False)
        assert answer.status_code == 200, f"{role}: nav link {link} answers {answer.status_code}"
    may_see_safety = role in ("admin", "pv_officer")
    assert ("/safety" in links) is may_see_safety
    # The viewer and the people team (hr_partner) see no customer records.
    may_see_records = role not in ("viewer", "hr_partner")
    assert ("/stakeholders" in links) is may_see_records
    assert ("/feedback" in links) is may_see_records
    assert ("/admin/users" in links) is (role == "admin")
    # And a page the role may not open is one it is not offered.
    for hidden in {"/safety", "/admin/users", "/identity/review", "/stakeholders"} - set(links):
        assert client.get(hidden, headers=HTML).status_code == 403, (role, hidden)


def test_a_refused_page_is_an_html_page_in_the_frame_and_the_api_stays_json(
    client_as: Callable[[str], TestClient],
) -> None:
    viewer = client_as("viewer")
    page = viewer.get("/stakeholders", headers=HTML)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Your role may not open this" in page.text and "viewer" in page.text
    assert "/stakeholders" not in _nav_links(page.text)
    api = viewer.get("/api/v1/stakeholders/search", params={"q": "x"}, headers=HTML)
    assert api.status_code == 403 and "detail" in api.json()
    # Without Accept: text/html (scripts, curl) pages answer JSON as before.
    assert viewer.get("/stakeholders").json()["detail"]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/no-such-page", 404, "Not found"),
        ("/stakeholders/999999", 404, "stakeholder 999999 not found"),
        ("/stakeholders?offset=minus", 400, "offset"),
        ("/stakeholders?type=alien", 400, "unknown stakeholder type"),
    ],
)
def test_errors_of_pages_are_pages_with_the_nav(
    client_as: Callable[[str], TestClient], path: str, status: int, words: str
) -> None:
    client = client_as("cx_lead")
    answer = client.get(path, headers=HTML)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert words in answer.text
    assert "/stakeholders" in _nav_links(answer.text)
    api = client.get("/api/v1/nothing-here", headers=HTML)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_the_favicon_and_the_api_docs_come_from_this_server(
    client_as: Callable[[str], TestClient],
) -> None:
    client = client_as("viewer")
    assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")
    assert client.get("/static/favicon.svg").status_code == 200
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert "cdn." not in page.text and "fonts.googleapis" not in page.text
        assets = re.findall(r'(?:src|href)="(/static/vendor/apidocs-[^"]+)"', page.text)
        assert assets, page.text
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200 and len(served.content) > 10_000, asset
            assert "immutable" in served.headers["cache-control"]
        csp = page.headers["content-security-policy"]
        assert "https:" not in csp and "unsafe-eval" not in csp
    assert client.get("/static/vendor/apidocs-0/../../app.py").status_code == 404


def test_a_failure_of_the_server_is_a_page_for_pages_and_json_for_the_api(app: FastAPI) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken, dependencies=[requires(PUBLIC)])
    app.add_api_route("/api/v1/broken", broken, dependencies=[requires(PUBLIC)])
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/broken", headers=HTML)
        assert page.status_code == 500 and "Something went wrong on our side" in page.text
        assert "a bug" not in page.text
        api = client.get("/api/v1/broken", headers=HTML)
        assert api.status_code == 500 and api.json() == {"detail": "internal server error"}


def test_a_busy_store_is_a_page_for_pages_and_json_for_the_api(app: FastAPI) -> None:
    """A store that cannot answer (locked past its timeout, restarting) gives a page in the
    frame saying nothing changed, with a way to try again; the API keeps its JSON."""

    def busy() -> None:
        raise OperationalError("SELECT 1", None, sqlite3.OperationalError("database is locked"))

    app.add_api_route("/busy", busy, dependencies=[requires(PUBLIC)])
    app.add_api_route("/api/v1/busy", busy, dependencies=[requires(PUBLIC)])
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/busy", headers=HTML)
        assert page.status_code == 503 and page.headers["retry-after"] == "1"
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="en"' in page.text and "<title>503 · The store is busy" in page.text
        assert "Nothing was changed" in page.text
        assert 'href="/busy">Try again</a>' in page.text
        # The same page again on this site, whatever Host the request named.
        elsewhere = client.get("/busy?q=M%C3%BCller", headers={**HTML, "host": "evil.example"})
        assert 'href="/busy?q=M%C3%BCller">Try again</a>' in elsewhere.text
        assert "evil.example" not in elsewhere.text
        api = client.get("/api/v1/busy", headers=HTML)
        assert api.status_code == 503 and "try again in a moment" in api.json()["detail"]
