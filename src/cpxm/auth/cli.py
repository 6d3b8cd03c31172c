"""``cpxm user ...`` and ``cpxm token ...``: people and integrations, from the server's shell.

``cpxm.cli`` registers these with ``app.add_typer(user_app, name="user")`` and
``app.add_typer(token_app, name="token")``.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cpxm.access import audit
from cpxm.access.roles import ROLES
from cpxm.auth import service
from cpxm.cli_support import cli_session
from cpxm.cli_support import fail as _fail
from cpxm.errors import DomainError

console = Console()
error_console = Console(stderr=True)
user_app = typer.Typer(help="Add and list the people who sign in.", no_args_is_help=True)
token_app = typer.Typer(help="Create and revoke API tokens for integrations.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="The person's email; they sign in with it.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    name: Annotated[
        str | None, typer.Option(help="Display name (default: from the email).")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Read the password from this environment variable instead of a prompt."),
    ] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate a password and print it once.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: SSO or API tokens only.")
    ] = False,
) -> None:
    """Add a user with ROLE; asks for a password unless told where it comes from."""
    password: str | None
    if no_password:
        password = None
    elif generate_password:
        password = secrets.token_urlsafe(15)
    elif password_env:
        password = os.environ.get(password_env)
        if not password:
            _fail(f"environment variable {password_env} is empty or not set")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with cli_session(ValueError) as session:
        user = service.create_user(
            session, email=email, role=role, password=password, display_name=name
        )
        audit.record(
            session,
            user_id=None,
            action="create",
            entity_type="users",
            entity_id=user.id,
            reason="cpxm user add",
            details={"role": user.role},
        )
        console.print(f"user {user.email} added with role {user.role} (id {user.id})")
    if generate_password and password:
        console.print(f"password (shown once): {password}", highlight=False)


@user_app.command("list")
def user_list() -> None:
    """Every user with role, team and state."""
    with cli_session(ValueError) as session:
        users, total = service.list_users(session, limit=10_000, offset=0)
        table = Table("id", "email", "role", "team", "active", "locked until")
        for user in users:
            table.add_row(
                str(user.id),
                user.email,
                user.role,
                str(user.team_id or ""),
                "yes" if user.is_active else "no",
                str(user.locked_until or ""),
            )
    console.print(table)
    console.print(f"{total} user(s)")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="Email of the user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Create an API token for USER and print it (only this once)."""
    with cli_session(ValueError) as session:
        found = service.get_user_by_email(session, email=user)
        if found is None:
            raise DomainError(f"no user with email {user}; add one with `cpxm user add`")
        issued = service.create_api_token(session, user=found, name=name)
        audit.record(
            session,
            user_id=None,
            action="create",
            entity_type="api_tokens",
            entity_id=issued.api_token.id,
            reason="cpxm token create",
        )
    # Plain stdout: scripts capture it with $(cpxm token create --user ...).
    typer.echo(issued.token)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token; requests with it are refused from now on."""
    with cli_session(ValueError) as session:
        revoked = service.revoke_api_token(session, token_id=token_id)
        audit.record(
            session,
            user_id=None,
            action="update",
            entity_type="api_tokens",
            entity_id=revoked.id,
            reason="cpxm token revoke",
            details={"fields": ["revoked_at"]},
        )
        console.print(f"token {revoked.id} ({revoked.prefix}...) revoked")
