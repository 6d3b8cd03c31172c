"""Single sign-on: which account an identity provider's claims open, and only that one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cpxm.auth.oidc import SsoRefused, user_for_claims
from cpxm.auth.service import create_user, update_user


def test_a_verified_email_finds_the_account_and_links_its_subject(session: Session) -> None:
    user = create_user(session, email="ana@example.org", role="medical")
    found = user_for_claims(
        session, {"sub": "idp-123", "email": "Ana@Example.org", "email_verified": True}
    )
    assert found.id == user.id and user.oidc_subject == "idp-123"
    # From then on the subject alone is enough, even if the email changes at the provider.
    assert user_for_claims(session, {"sub": "idp-123", "email": "new@example.org"}).id == user.id


def test_sso_never_creates_accounts_or_crosses_identities(session: Session) -> None:
    user = create_user(session, email="ana@example.org", role="medical")
    with pytest.raises(SsoRefused, match=r"no CPXM account for bob@example\.org"):
        user_for_claims(session, {"sub": "x", "email": "bob@example.org"})
    with pytest.raises(SsoRefused, match="no verified email"):
        user_for_claims(session, {"sub": "x", "email": "ana@example.org", "email_verified": False})
    user_for_claims(session, {"sub": "first", "email": "ana@example.org"})
    with pytest.raises(SsoRefused, match="linked to another"):
        user_for_claims(session, {"sub": "second", "email": "ana@example.org"})
    update_user(session, user=user, is_active=False)
    with pytest.raises(SsoRefused, match="deactivated"):
        user_for_claims(session, {"sub": "first"})


def test_without_configuration_sso_is_off(anonymous_client: TestClient) -> None:
    assert "SSO" not in anonymous_client.get("/auth/sign-in").text
    response = anonymous_client.get("/auth/oidc/start")
    assert response.status_code == 400
    assert "CPXM_OIDC_ISSUER" in response.json()["detail"]
