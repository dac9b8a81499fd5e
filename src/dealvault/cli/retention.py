"""Commands: retention set, list, review, due, run (rules per dataset and category, reviews,
scheduled crypto-shredding with destruction certificates)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import print_json, table
from dealvault.errors import Invalid

if TYPE_CHECKING:
    from rich.table import Table

    from dealvault.retention.service import RuleOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]

retention_app = typer.Typer(
    help="Retention rules per dataset and category: set, list, review, due, run (scheduled "
    "crypto-shredding with destruction certificates).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{option}: not a date (YYYY-MM-DD)") from None


def _rules_table(title: str, rules: list[RuleOut]) -> Table:
    rows = []
    for r in rules:
        rows.append([f"#{r.id}", r.dataset, r.category or "(whole dataset)", r.start,
                     r.keep_days if r.keep_days is not None else "-", r.end, r.review_every,
                     r.next_review, r.status, r.certificate or "-", r.basis])  # fmt: skip
    cols = ["rule", "dataset", "category", "from", "days", "kept until", "review every",
            "next review", "status", "certificate", "basis"]  # fmt: skip
    return table(title, cols, rows)


@retention_app.command("set")
def set_cmd(
    ctx: typer.Context,
    deal: DealOpt = ...,  # type: ignore[assignment]
    dataset: Annotated[str, typer.Option(help="Dataset name.")] = ...,  # type: ignore[assignment]
    category: Annotated[
        str | None,
        typer.Option(
            help="Only this category (identity, contact, transaction, preference, sensitive, "
            "free_text); default: the whole dataset."
        ),
    ] = None,
    keep_days: Annotated[
        int | None, typer.Option(help="Keep this many days from --from (or the import).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Keep until this day, YYYY-MM-DD.")] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Count --keep-days from this day (default: the import)."),
    ] = None,
    review_every: Annotated[int, typer.Option(help="Review the rule every DAYS days.")] = ...,  # type: ignore[assignment]
    basis: Annotated[str, typer.Option(help="The legal or contractual basis.")] = ...,  # type: ignore[assignment]
    json_out: JsonOpt = False,
) -> None:
    """Set how long a dataset (or one of its categories) is kept (seller steward). A
    category's retention ends no later than its dataset's; the day after its end, 'retention
    run' destroys it."""
    from dealvault.flows.retention import set_rule

    c = get(ctx)
    out = set_rule(
        c.stores(), actor=c.actor(), deal=deal, dataset=dataset, category=category,
        keep_days=keep_days, until=_date(until, "--until"), start=_date(start, "--from"),
        review_every=review_every, basis=basis,
    )  # fmt: skip
    if json_out:
        print_json(c.console, out)
        return
    what = f"category {out.category} of {out.dataset}" if out.category else out.dataset
    c.console.print(f"retention rule #{out.id}: {what} kept until {out.end} (destroyed from the "
                    f"day after); next review {out.next_review}")  # fmt: skip


@retention_app.command("list")
def list_cmd(ctx: typer.Context, deal: DealOpt = ..., json_out: JsonOpt = False) -> None:  # type: ignore[assignment]
    """The retention rules of a deal (active, destroyed, superseded)."""
    from dealvault.flows.retention import list_rules

    c = get(ctx)
    rules = list_rules(c.stores(), actor=c.actor(), deal=deal)
    if json_out:
        print_json(c.console, rules)
        return
    c.console.print(_rules_table(f"retention rules of {deal}", list(rules)))


@retention_app.command("review")
def review_cmd(
    ctx: typer.Context,
    rule: Annotated[int, typer.Argument(min=1, help="Retention rule id (see 'retention list').")],
    note: Annotated[str, typer.Option(help="What was checked and decided (kept with it).")],
    json_out: JsonOpt = False,
) -> None:
    """Record the periodic review of a rule: the next one is due its review-every days later."""
    from dealvault.flows.retention import review_rule

    c = get(ctx)
    out = review_rule(c.stores(), actor=c.actor(), rule_id=rule, note=note)
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(f"retention rule #{out.id} reviewed; next review {out.next_review}")


@retention_app.command("due")
def due_cmd(
    ctx: typer.Context,
    deal: Annotated[
        str | None, typer.Option("--deal", help="Deal code (default: every deal you may read).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Reviews overdue or due within 14 days, and destructions due or upcoming."""
    from dealvault.flows.retention import due_items

    c = get(ctx)
    items = due_items(c.stores(), actor=c.actor(), deal=deal)
    if json_out:
        print_json(c.console, items)
        return
    rows = [[f"#{i.rule}", i.deal, i.dataset, i.category or "(whole dataset)", i.kind, i.state,
             i.day, i.days] for i in items]  # fmt: skip
    cols = ["rule", "deal", "dataset", "category", "what", "state", "day", "days from today"]
    c.console.print(table("retention due", cols, rows))


@retention_app.command("run")
def run_cmd(
    ctx: typer.Context,
    deal: Annotated[
        str | None, typer.Option("--deal", help="Deal code (default: every deal you may run).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would go (counts).")
    ] = False,
    certificates: Annotated[
        Path | None,
        typer.Option(help="Write each certificate's signed note here (mode 0600)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Destroy what reached the end of its retention (for cron or a systemd timer): a dataset
    crypto-shredded, a category's envelopes erased, each with a signed destruction
    certificate. A frozen deal, an open incident or a transfer plan not packaged holds it
    back. A second run does nothing."""
    from dealvault.flows.retention import run

    c = get(ctx)
    out = run(c.stores(), c.keyring(), actor=c.actor(), deal=deal, dry_run=dry_run,
              certificates=certificates)  # fmt: skip
    if json_out:
        print_json(c.console, out)
        return
    rows = [[f"#{i.rule}", i.deal, i.dataset, i.category or "(whole dataset)", i.end, i.outcome,
             i.customers, i.child_rows, i.keys_destroyed, i.certificate or "-",
             i.why or i.file or "-"] for i in out.items]  # fmt: skip
    cols = ["rule", "deal", "dataset", "category", "kept until", "outcome", "customers",
            "child rows", "keys destroyed", "certificate", "note"]  # fmt: skip
    title = f"retention run of {out.today}" + (" (dry run: nothing destroyed)" if dry_run else "")
    c.console.print(table(title, cols, rows))
    for code in out.held_deals:
        c.console.print(f"deal {code} is frozen: its retention is held until it is unfrozen")
    if not out.items and not out.held_deals:
        c.console.print("nothing reached the end of its retention")
