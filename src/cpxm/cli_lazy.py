"""Command groups loaded only when invoked, so `cpxm` starts in well under a second.

Loading every domain's commands up front imported the PDF writer, the text analysers, Splink and
the password hasher for `cpxm quarantine list` (2.5 s to start). The top-level help lists these
commands from the short help kept here; `tests/cli/test_lazy.py` checks it still says what the
loaded command says, and that each one loads.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # Typer 0.29 carries its own copy of click; its types are only named here.
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``, a Typer app or a command function)."""

    target: str
    short_help: str


LAZY_COMMANDS: dict[str, LazyCommand] = {
    "resolve": LazyCommand(
        "cpxm.identity.cli:resolve_command",
        "Link source records into golden records (Splink); queue uncertain pairs for review.",
    ),
    "identity": LazyCommand(
        "cpxm.identity.cli:identity_app",
        "Review uncertain pairs, undo merges and export identity links.",
    ),
    "survey": LazyCommand(
        "cpxm.surveys.cli:survey_app",
        "Define surveys, send them with fatigue and consent rules, export responses.",
    ),
    "user": LazyCommand("cpxm.auth.cli:user_app", "Add and list the people who sign in."),
    "token": LazyCommand(
        "cpxm.auth.cli:token_app", "Create and revoke API tokens for integrations."
    ),
    "governance": LazyCommand(
        "cpxm.governance.cli:governance_app", "Load and show the RACI governance matrix."
    ),
    "cases": LazyCommand(
        "cpxm.cases.cli:cases_app", "Open cases from new feedback, and sweep SLAs."
    ),
    "analyze": LazyCommand(
        "cpxm.feedback.cli:analyze_command",
        "Analyse pending feedback in the store (sentiment, themes, PII, safety; cases opened).",
    ),
    "safety": LazyCommand(
        "cpxm.safety.cli:safety_app",
        "Work the PV queue: list, acknowledge, confirm, reject, export, reconcile.",
    ),
    "privacy": LazyCommand(
        "cpxm.privacy.cli:privacy_app",
        "Export or erase everything held about one person (GDPR articles 15, 17, 20).",
    ),
    "retention": LazyCommand(
        "cpxm.retention.cli:retention_app",
        "How long each category of data is kept; delete or anonymise what is older.",
    ),
    "lake": LazyCommand(
        "cpxm.lake.cli:lake_app",
        "Export the analytic facts to a lake folder (Parquet), incrementally.",
    ),
    "digest": LazyCommand(
        "cpxm.digest.cli:digest_command",
        "Write the monthly CX digest for an audience as PDF or HTML (by OUT's suffix).",
    ),
    "initiatives": LazyCommand(
        "cpxm.initiatives.cli:initiatives_app",
        "The initiatives backlog: add, list by RICE, show evidence, ship.",
    ),
    "maturity": LazyCommand(
        "cpxm.initiatives.cli:maturity_app",
        "The crawl-walk-run maturity assessment: show it, send the questionnaire.",
    ),
    "analytics": LazyCommand(
        "cpxm.analytics.cli:analytics_app",
        "Check and rebuild the summaries the analytics pages read.",
    ),
    "predict": LazyCommand(
        "cpxm.predict.cli:predict_app",
        "Fit the at-risk model, score every stakeholder, list who is at risk.",
    ),
}


def load_for_commands() -> None:
    """What every command needs before it touches the store; help alone does not pay for it.

    Every table: a mapper configured with a model module missing fails on its foreign keys
    (`cpxm resolve` on a fresh store could not find 'journey_stages'), and work that walks the
    schema (a merge re-points every referencing row, an erasure finds every table that points at
    a person) must see every table. And the safety net's arrival hook: feedback any command
    commits (an import of comments, say) is queued for screening the moment it commits.
    """
    import cpxm.schema  # noqa: F401
    from cpxm.safety import arrival

    arrival.install()


def load_command(name: str) -> Command:
    """Import a lazy command's module and build its click command, named as it is invoked."""
    module_name, attribute = LAZY_COMMANDS[name].target.split(":")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer()
        single.command(name)(target)
        target = single
    command = typer.main.get_command(target)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The top-level group: eager commands as Typer builds them, the rest from `LAZY_COMMANDS`."""

    _listing_help = False

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing_help:
            # Listing needs a name and a line of help, not the command's imports.
            short_help = LAZY_COMMANDS[cmd_name].short_help
            return TyperCommand(cmd_name, help=short_help, short_help=short_help)
        return load_command(cmd_name)

    def invoke(self, ctx: Context) -> Any:
        load_for_commands()
        return super().invoke(ctx)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing_help = False
