"""Who runs a command that changes a regulated record: the person whose API token it carries.

``--as EMAIL`` let anyone act as anyone, and without it a PV decision was recorded with no
actor at all. A command that needs an actor reads ``CPXM_TOKEN`` (an API token, made with
``cpxm token create --user EMAIL``), acts as that token's user, and refuses when the token is
missing, revoked or its user's role may not do the work. Its changes are audited as theirs.
"""

from __future__ import annotations

import os
import sys

import typer
from sqlalchemy.orm import Session

from cpxm.access import audit
from cpxm.access.principal import Principal, principal_from_api_token
from cpxm.access.roles import Domain, Role
from cpxm.auth.signatures import SignatureIn, Signer, signer_or_refusal
from cpxm.errors import DomainError

TOKEN_VARIABLE = "CPXM_TOKEN"  # noqa: S105 (the name of a variable, not a secret)


class NoActor(DomainError):
    status_code = 401


def acting_principal(
    session: Session,
    *,
    needs: Domain | None = None,
    roles: frozenset[Role] | None = None,
    reason: str | None = None,
) -> Principal:
    """The user ``CPXM_TOKEN`` belongs to, bound to ``session`` so its changes are theirs;
    refused unless their role sees the ``needs`` domain and is one of ``roles`` (if given)."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise NoActor(
            f"this command acts for a person: set {TOKEN_VARIABLE} to your API token "
            "(an admin makes one with `cpxm token create --user YOUR-EMAIL`)"
        )
    principal = principal_from_api_token(session, token)
    if principal is None:
        raise NoActor(f"{TOKEN_VARIABLE} is not a valid token of an active user (revoked?)")
    if needs is not None and not principal.can_see(needs):
        raise NoActor(
            f"{principal.email} is {principal.role.value}, whose role may not do this "
            f"(it needs the {needs.value} domain)"
        )
    if roles is not None and principal.role not in roles:
        allowed = ", ".join(sorted(role.value for role in roles))
        raise NoActor(
            f"{principal.email} is {principal.role.value}, whose role may not do this "
            f"(it needs one of: {allowed})"
        )
    audit.bind_principal(session, principal, reason=reason)
    return principal


CLI_ADDRESS = "command line"


def acting_signer(
    session: Session,
    principal: Principal,
    *,
    meaning: str,
    reason: str,
    password_stdin: bool,
) -> Signer:
    """``principal``'s electronic signature for a command: the password is read from standard
    input (``--password-stdin``, one line) or asked for without echo; a wrong one is refused,
    audited and counted toward the account's lockout (failures from the command line count
    together, as one address)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt(f"Password of {principal.email} (to sign)", hide_input=True)
    else:
        raise NoActor(
            "signing needs your password: type it at the prompt, or pipe it with --password-stdin"
        )
    return signer_or_refusal(
        session,
        user_id=principal.user_id,
        signature=SignatureIn.given(password=password, meaning=meaning, reason=reason),
        address=CLI_ADDRESS,
    )
