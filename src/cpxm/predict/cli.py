"""``cpxm predict fit|score|list``: the risk model from the command line.

``cpxm.cli_lazy`` registers it, so scikit-learn loads only when a model is fitted.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cpxm.cli_support import cli_session

console = Console()
predict_app = typer.Typer(
    help="Fit the at-risk model, score every stakeholder, list who is at risk.",
    no_args_is_help=True,
)


def _day(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time.min)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


@predict_app.command("fit")
def fit_command(
    end: Annotated[
        str | None,
        typer.Option(help="Treat the data as ending on this day (YYYY-MM-DD); default: newest."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Fit a new model version on a time split and print its held-out evaluation."""
    from cpxm.predict.service import fit_model
    from cpxm.predict.training import NotEnoughHistory

    with cli_session(NotEnoughHistory) as session:
        row = fit_model(session, end=_day(end, "--end"))
        version, metrics, seconds = row.version, row.metrics, row.seconds
    if as_json:
        print(json.dumps({"version": version, "seconds": seconds, "metrics": metrics}, indent=2))
        return
    console.print(
        f"model v{version}: learnt from {metrics['learn_examples']:,} examples, tested on "
        f"{metrics['people']:,} people at {metrics['cutoffs']['test']} "
        f"({metrics['positives']:,} turned detractor or disengaged in 90 days, "
        f"{_percent(metrics['positive_rate'])}); {seconds:.1f} s",
        highlight=False,
    )
    table = Table("held-out", "ROC AUC", "precision top 5%", "precision top 10%")
    for name, label in (
        ("model", "model"),
        ("last_score", "baseline: last NPS"),
        ("silent_rule", "baseline: silent-disengagement rule"),
    ):
        figures = metrics[name]
        table.add_row(
            label,
            f"{figures['auc']:.3f}",
            _percent(figures["precision_at_5"]),
            _percent(figures["precision_at_10"]),
        )
    console.print(table)
    for baseline, margins in metrics["margins"].items():
        auc = margins["auc"]
        top = margins["precision_at_10"]
        console.print(
            f"margin over {baseline}: AUC {auc['margin']:+.3f} (95% CI {auc['low']:+.3f} to "
            f"{auc['high']:+.3f}); precision top 10% {100 * top['margin']:+.1f} pts "
            f"({100 * top['low']:+.1f} to {100 * top['high']:+.1f})",
            highlight=False,
        )


@predict_app.command("score")
def score_command(
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this day (YYYY-MM-DD); default: newest data.")
    ] = None,
) -> None:
    """Score every stakeholder in the population with the latest model; store risk and reasons."""
    from cpxm.predict.service import score_stakeholders

    with cli_session() as session:
        result = score_stakeholders(session, as_of=_day(as_of, "--as-of"))
    console.print(
        f"model v{result.model_version}: scored {result.scored:,} stakeholders as of "
        f"{result.as_of:%Y-%m-%d} in {result.seconds:.1f} s",
        highlight=False,
    )
    if result.top_reasons:
        named = ", ".join(f"{name} ({count})" for name, count in result.top_reasons.items())
        console.print(f"top reasons in the top 10%: {named}", highlight=False)


@predict_app.command("actions")
def actions_command(
    share: Annotated[
        float, typer.Option(min=0.001, max=1.0, help="Propose for this top share by risk.")
    ] = 0.10,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to print.")] = 20,
) -> None:
    """Propose one next best action for each person at the top of the latest scoring."""
    from cpxm.predict.outreach import ActionFilter, list_actions, propose_actions

    with cli_session() as session:
        proposal = propose_actions(session, share=share)
        rows, _total = list_actions(
            session, action_filter=ActionFilter(status="proposed"), limit=limit
        )
    console.print(
        f"proposed {proposal.proposed:,} actions ({proposal.held:,} pushed back by contact "
        f"rules; {proposal.skipped_open:,} people already had one open)",
        highlight=False,
    )
    table = Table("id", "stakeholder", "team", "channel", "not before", "topic")
    for row in rows:
        table.add_row(
            str(row.id),
            row.stakeholder,
            row.team or "(unrouted)",
            row.channel or "",
            f"{row.not_before:%Y-%m-%d}",
            row.topic,
        )
    console.print(table)


@predict_app.command("accept")
def accept_command(
    action_id: Annotated[int, typer.Argument(help="The action's id (`cpxm predict actions`).")],
) -> None:
    """Accept an action: it becomes a proactive-outreach case routed by the RACI matrix."""
    from cpxm.predict.outreach import accept_action, get_action

    with cli_session() as session:
        action = accept_action(
            session, action=get_action(session, action_id=action_id), actor_user_id=None
        )
        case_id = action.case_id
    console.print(f"action {action_id} accepted: case {case_id}", highlight=False)


@predict_app.command("decline")
def decline_command(
    action_id: Annotated[int, typer.Argument(help="The action's id (`cpxm predict actions`).")],
) -> None:
    """Decline a proposed action: nobody reaches out for it."""
    from cpxm.predict.outreach import dismiss_action, get_action

    with cli_session() as session:
        dismiss_action(session, action=get_action(session, action_id=action_id), actor_user_id=None)
    console.print(f"action {action_id} declined", highlight=False)


@predict_app.command("outcome")
def outcome_command(
    action_id: Annotated[int, typer.Argument(help="The accepted action's id.")],
    result: Annotated[
        str, typer.Option(help="reached_improved, reached_no_change or not_reached.")
    ],
) -> None:
    """Record what came of an accepted action."""
    from cpxm.predict.outreach import get_action, record_outcome

    with cli_session() as session:
        record_outcome(session, action=get_action(session, action_id=action_id), outcome=result)
    console.print(f"action {action_id}: {result}", highlight=False)


@predict_app.command("simulate")
def simulate_command(
    share: Annotated[float, typer.Option(min=0.001, max=1.0, help="Share reached.")] = 0.10,
    rounds: Annotated[int, typer.Option(min=50, max=10_000, help="Simulation rounds.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
) -> None:
    """On the demo: later NPS after outreach to the top share by risk, a random share, or none."""
    from cpxm.predict.simulate import Interval, simulate_outreach

    with cli_session() as session:
        result = simulate_outreach(session, share=share, rounds=rounds, seed=seed)
    console.print(
        f"test cut-off {result.cutoff:%Y-%m-%d}: {result.people:,} people, {result.drifting:,} "
        f"drift in the next 90 days ({result.visible:,} with their signs already showing); "
        f"reach {result.share:.0%}; {result.rounds} rounds; 95% intervals",
        highlight=False,
    )
    table = Table(
        "policy",
        "reached",
        "drifters reached in time",
        "drifts prevented",
        "per 100 outreaches",
        "later NPS",
        "NPS gain",
    )

    def interval(value: Interval, sign: str = "") -> str:
        return f"{value.mean:{sign}.2f} ({value.low:{sign}.2f} to {value.high:{sign}.2f})"

    for row in result.results:
        table.add_row(
            row.policy.replace("_", " "),
            f"{row.reached:,}",
            f"{row.drifters_reached:,}",
            interval(row.prevented),
            interval(row.per_100),
            f"{row.nps:+.1f}",
            interval(row.gain, "+"),
        )
    console.print(table)
    console.print(
        f"targeting by risk over reaching as many at random: "
        f"{interval(result.risk_over_random, '+')} NPS points",
        highlight=False,
    )
    for driver, found in result.drivers.items():
        console.print(
            f"planted driver {driver}: named in the top 3 reasons for {found['named']:.0f} of "
            f"{found['people']:.0f} drifters whose signs show ({100 * found['share']:.0f}%)",
            highlight=False,
        )
