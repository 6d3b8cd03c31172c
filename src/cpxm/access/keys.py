"""The pseudonymous key of a person: one per person, the same on every route, export and restart.

Roles that may not see a patient's identity meet the patient as a key (``9DF917B4C2A1``), an
HMAC of the stakeholder id under a secret. The secret is ``CPXM_SECRET_KEY`` when a deployment
keeps it outside the store, else the key the migrations generated when ``cpxm init`` built the
store (``workspace_settings.pseudonym_key``): a key made up at each start would turn every
patient into a stranger on restart. Without the secret a key cannot be turned back into the id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cpxm.workspace.models import WorkspaceSetting
from cpxm.workspace.settings import get_setting

PSEUDONYM_KEY_SETTING = "pseudonym_key"
KEY_LENGTH = 12  # hex digits: 48 bits, no collision to expect below millions of patients
_SESSION_CACHE = "cpxm_pseudonym_secret"


def pseudonym_secret(session: Session) -> bytes:
    configured = os.environ.get("CPXM_SECRET_KEY", "")
    if configured:
        return configured.encode()
    cached = session.info.get(_SESSION_CACHE)
    if isinstance(cached, bytes):
        return cached
    stored = get_setting(session, PSEUDONYM_KEY_SETTING)
    if not stored:
        # A store whose key row was removed by hand: make one now, once, whoever comes first.
        fresh = secrets.token_hex(32)
        try:
            with session.begin_nested():
                session.add(WorkspaceSetting(name=PSEUDONYM_KEY_SETTING, value=fresh))
        except IntegrityError:
            pass
        stored = get_setting(session, PSEUDONYM_KEY_SETTING) or fresh
    secret = stored.encode()
    session.info[_SESSION_CACHE] = secret
    return secret


def person_key(secret: bytes, stakeholder_id: int) -> str:
    digest = hmac.new(secret, str(stakeholder_id).encode(), hashlib.sha256)
    return digest.hexdigest()[:KEY_LENGTH].upper()


def pseudonym_label(key: str, stakeholder_type: str | None) -> str:
    """What a pseudonymised person is called on pages: 'Patient 9DF917B4C2A1'."""
    kind = (stakeholder_type or "patient").replace("_", " ").capitalize()
    return f"{kind} {key}"


def pseudonym(session: Session, stakeholder_id: int, stakeholder_type: str = "patient") -> str:
    """The name a role without patient identity sees for this person."""
    return pseudonym_label(person_key(pseudonym_secret(session), stakeholder_id), stakeholder_type)
