"""Signing in through the pages: argon2 passwords, the session cookie's flags, CSRF, lockout."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpxm.auth import service, throttle
from cpxm.auth.models import UserSession
from cpxm.errors import DomainError
from cpxm.workspace.models import AuditLogEntry, User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def analyst(session: Session) -> User:
    user = service.create_user(session, email="Ana@Example.org", role="analyst", password=PASSWORD)
    session.commit()
    return user


def _form_token(client: TestClient, path: str = "/auth/sign-in") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def _sign_in(client: TestClient, password: str = PASSWORD, next_path: str = "/") -> Response:
    response: Response = client.post(
        "/auth/sign-in",
        data={
            "email": "ana@example.org",
            "password": password,
            "csrf_token": _form_token(client),
            "next": next_path,
        },
        follow_redirects=False,
    )
    return response


def test_password_is_stored_as_argon2id(analyst: User) -> None:
    assert analyst.password_hash is not None
    assert analyst.password_hash.startswith("$argon2id$")
    assert PASSWORD not in analyst.password_hash


def test_sign_in_sets_a_secure_http_only_session_cookie(
    anonymous_client: TestClient, analyst: User, session: Session
) -> None:
    response = _sign_in(anonymous_client, next_path="/api/v1/me")
    assert response.status_code == 303
    assert response.headers["location"] == "/api/v1/me"
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith("cpxm_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    me = anonymous_client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == "ana@example.org"
    assert me.json()["domains"] == ["commercial"]
    # Only a hash of the cookie's secret is stored.
    secret = cookie.split(";")[0].split("=", 1)[1]
    stored = session.scalars(select(UserSession.token_hash)).all()
    assert secret not in stored and len(stored) == 1


def test_sign_in_refuses_open_redirects(anonymous_client: TestClient, analyst: User) -> None:
    response = _sign_in(anonymous_client, next_path="//evil.example/phish")
    assert response.headers["location"] == "/"


def test_wrong_password_and_unknown_email_read_the_same(
    anonymous_client: TestClient, analyst: User
) -> None:
    wrong = _sign_in(anonymous_client, password="not the password at all")
    unknown = anonymous_client.post(
        "/auth/sign-in",
        data={
            "email": "nobody@example.org",
            "password": PASSWORD,
            "csrf_token": _form_token(anonymous_client),
        },
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "the email or password is wrong" in unknown.text
    assert "the email or password is wrong" in wrong.text


def test_five_failures_lock_the_account_even_for_the_right_password(
    anonymous_client: TestClient, analyst: User, session: Session
) -> None:
    statuses = [
        _sign_in(anonymous_client, password=f"wrong password {n}").status_code
        for n in range(throttle.FAILURES_PER_ACCOUNT_AT_ADDRESS)
    ]
    assert statuses == [401] * (throttle.FAILURES_PER_ACCOUNT_AT_ADDRESS - 1) + [429]
    locked = _sign_in(anonymous_client)
    assert locked.status_code == 429
    assert "too many failed sign-ins" in locked.text
    assert anonymous_client.get("/api/v1/me").status_code == 401
    session.expire_all()
    failures = session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.action == "sign_in_failed")
    ).all()
    assert len(failures) == throttle.FAILURES_PER_ACCOUNT_AT_ADDRESS


def test_sign_in_form_without_its_csrf_token_is_refused(
    anonymous_client: TestClient, analyst: User
) -> None:
    anonymous_client.get("/auth/sign-in")
    response = anonymous_client.post(
        "/auth/sign-in",
        data={"email": "ana@example.org", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 403
    assert anonymous_client.get("/api/v1/me").status_code == 401


def test_cookie_signed_posts_need_the_session_csrf_token(
    anonymous_client: TestClient, analyst: User, session: Session
) -> None:
    _sign_in(anonymous_client)
    csrf = session.scalars(select(UserSession.csrf_token)).one()
    refused = anonymous_client.post("/auth/sign-out", follow_redirects=False)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert anonymous_client.get("/api/v1/me").status_code == 200
    signed_out = anonymous_client.post(
        "/auth/sign-out", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert anonymous_client.get("/api/v1/me").status_code == 401


def test_pages_redirect_to_sign_in_and_the_api_answers_401(
    anonymous_client: TestClient,
) -> None:
    page = anonymous_client.get("/?segment=x", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/auth/sign-in?next=%2F%3Fsegment%3Dx"
    api = anonymous_client.get("/api/v1/stakeholders")
    assert api.status_code == 401
    assert api.headers["www-authenticate"].startswith("Bearer")


def test_security_headers_on_the_sign_in_page(anonymous_client: TestClient) -> None:
    response = anonymous_client.get("/auth/sign-in")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "form-action 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_api_tokens_act_as_their_user_until_revoked(
    anonymous_client: TestClient, analyst: User, session: Session
) -> None:
    issued = service.create_api_token(session, user=analyst, name="bi-tool")
    session.commit()
    assert issued.token.startswith("cpxm_")
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert anonymous_client.get("/api/v1/me", headers=headers).json()["role"] == "analyst"
    service.revoke_api_token(session, token_id=issued.api_token.id)
    session.commit()
    assert anonymous_client.get("/api/v1/me", headers=headers).status_code == 401
    wrong = {"Authorization": "Bearer cpxm_not-a-token"}
    assert anonymous_client.get("/api/v1/me", headers=wrong).status_code == 401


def test_deactivating_a_user_ends_their_sessions(
    anonymous_client: TestClient, analyst: User, session: Session
) -> None:
    _sign_in(anonymous_client)
    assert anonymous_client.get("/api/v1/me").status_code == 200
    service.update_user(session, user=analyst, is_active=False)
    session.commit()
    assert anonymous_client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    "change", [{"password": "a different long passphrase"}, {"role": "viewer"}]
)
def test_a_reset_or_role_change_ends_sessions_and_tokens_at_once(
    anonymous_client: TestClient, analyst: User, session: Session, change: dict[str, str]
) -> None:
    issued = service.create_api_token(session, user=analyst, name="bi-tool")
    session.commit()
    bearer = {"Authorization": f"Bearer {issued.token}"}
    _sign_in(anonymous_client)
    assert anonymous_client.get("/api/v1/me").status_code == 200
    assert anonymous_client.get("/api/v1/me", headers=bearer).status_code == 200

    service.update_user(
        session, user=analyst, password=change.get("password"), role=change.get("role")
    )
    session.commit()

    assert anonymous_client.get("/api/v1/me").status_code == 401
    anonymous_client.cookies.clear()
    assert anonymous_client.get("/api/v1/me", headers=bearer).status_code == 401


def test_changing_nothing_that_matters_keeps_the_session(
    anonymous_client: TestClient, analyst: User, session: Session
) -> None:
    _sign_in(anonymous_client)
    service.update_user(session, user=analyst, role="analyst")  # the role it already has
    session.commit()
    assert anonymous_client.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12 characters"),
        ("aaaaaaaaaaaa", "repeats"),
        ("Password1234", "commonly used password"),
        ("qwertyuiopasdf", "harder password"),
        ("ana@example.org!", "harder password"),  # the user's own email, else strong
    ],
)
def test_the_password_policy_refuses_guessable_passwords(
    session: Session, password: str, reason: str
) -> None:
    with pytest.raises(DomainError) as refused:
        service.create_user(session, email="ana@example.org", role="analyst", password=password)
    assert reason in str(refused.value.detail).lower()


def test_the_password_policy_accepts_a_long_passphrase(session: Session) -> None:
    user = service.create_user(
        session, email="ana@example.org", role="analyst", password="ledger maple orbit 1947"
    )
    assert user.password_hash is not None


def test_pages_and_api_answers_are_never_stored_but_static_files_may_be(
    anonymous_client: TestClient, analyst: User
) -> None:
    _sign_in(anonymous_client)
    for path in ("/", "/api/v1/me", "/api/v1/stakeholders", "/cases"):
        response = anonymous_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
        # The test client speaks HTTPS: browsers are told to keep to it.
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    static = anonymous_client.get("/static/cpxm.css")
    assert static.status_code == 200
    assert static.headers.get("cache-control") != "no-store"


def test_no_hsts_over_plain_http(app: FastAPI) -> None:
    with TestClient(app, base_url="http://testserver") as client:
        response = client.get("/auth/sign-in")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


def test_every_page_offers_sign_out_and_it_ends_the_session(
    anonymous_client: TestClient, analyst: User
) -> None:
    assert "Sign out" not in anonymous_client.get("/auth/sign-in").text
    _sign_in(anonymous_client)
    for path in ("/", "/analytics/metrics", "/cases"):
        page = anonymous_client.get(path)
        assert page.status_code == 200, path
        assert 'action="/auth/sign-out"' in page.text, path
    form_token = re.search(
        r'action="/auth/sign-out">.*?name="csrf_token" value="([^"]+)"',
        anonymous_client.get("/").text,
        re.DOTALL,
    )
    assert form_token
    signed_out = anonymous_client.post(
        "/auth/sign-out", data={"csrf_token": form_token.group(1)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert anonymous_client.get("/api/v1/me").status_code == 401


def test_an_unknown_email_is_throttled_exactly_as_a_known_one(
    anonymous_client: TestClient, analyst: User
) -> None:
    def attempts(email: str) -> list[tuple[int, str]]:
        answers = []
        for n in range(throttle.FAILURES_PER_ACCOUNT_AT_ADDRESS + 1):
            response = anonymous_client.post(
                "/auth/sign-in",
                data={
                    "email": email,
                    "password": f"wrong password {n}",
                    "csrf_token": _form_token(anonymous_client),
                },
            )
            error = re.search(r'role="alert"[^>]*>(.*?)<', response.text, re.DOTALL)
            answers.append((response.status_code, error.group(1).strip() if error else ""))
        return answers

    assert attempts("ana@example.org") == attempts("nobody@example.org")


def test_a_stranger_locks_an_account_only_where_they_are(session: Session, analyst: User) -> None:
    for n in range(throttle.FAILURES_PER_ACCOUNT_AT_ADDRESS - 1):
        with pytest.raises(service.SignInFailed):
            service.authenticate(
                session, email="ana@example.org", password=f"guess {n}", address="203.0.113.9"
            )
    with pytest.raises(throttle.SignInThrottled):
        service.authenticate(
            session, email="ana@example.org", password="last guess", address="203.0.113.9"
        )
    with pytest.raises(throttle.SignInThrottled):  # even the right password, from there
        service.authenticate(
            session, email="ana@example.org", password=PASSWORD, address="203.0.113.9"
        )
    # The owner, from their own address, signs in.
    owner = service.authenticate(
        session, email="ana@example.org", password=PASSWORD, address="198.51.100.4"
    )
    assert owner.id == analyst.id
    # An admin's unlock clears the lock where the stranger set it.
    assert throttle.unlock_account(session, email="ANA@example.org") >= 1
    assert service.authenticate(
        session, email="ana@example.org", password=PASSWORD, address="203.0.113.9"
    )


def test_an_address_spraying_many_accounts_is_locked(session: Session, analyst: User) -> None:
    for n in range(throttle.FAILURES_PER_ADDRESS - 1):
        with pytest.raises(service.SignInFailed):
            service.authenticate(
                session, email=f"user{n}@example.org", password="Summer2026!", address="192.0.2.7"
            )
    with pytest.raises(throttle.SignInThrottled):
        service.authenticate(
            session, email="someone@example.org", password="Summer2026!", address="192.0.2.7"
        )
    with pytest.raises(throttle.SignInThrottled):
        service.authenticate(
            session, email="ana@example.org", password=PASSWORD, address="192.0.2.7"
        )
    assert service.authenticate(
        session, email="ana@example.org", password=PASSWORD, address="198.51.100.4"
    )
