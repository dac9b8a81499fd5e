"""Commands: compliance check, findings, waive, rules (the gate a transfer plan must pass)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import print_json, table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PlanArg = Annotated[int, typer.Argument(min=1, help="Transfer plan id (see 'plan list').")]

compliance_app = typer.Typer(
    help="The compliance gate a transfer plan must pass: check, findings, waive, review, pia, "
    "report, rules.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    from dealvault.cli import compliance_pia

    compliance_pia.register(compliance_app)
    app.add_typer(compliance_app, name="compliance")


def _print(ctx: typer.Context, out: object, json_out: bool, *, verdict: bool = True) -> None:
    from dealvault.flows.compliance import CheckOut

    c = get(ctx)
    assert isinstance(out, CheckOut)
    if json_out:
        print_json(c.console, out)
        return
    rows = [
        [f"#{f.id}", "blocking" if f.blocking else "advisory", f.status, f.rule, f.source,
         f.message + (f" (waived by {f.waived_by}: {f.waiver_reason})" if f.waived_by
                      and f.status == "waived" else "")]
        for f in out.findings
    ]  # fmt: skip
    c.console.print(
        table(
            f"compliance of transfer plan #{out.plan} ({out.deal})",
            ["finding", "kind", "status", "rule", "legal source", "what was found"],
            rows,
        )
    )
    if verdict:
        c.console.print(
            "the gate is open: no blocking finding is open"
            if out.passed
            else f"the gate is closed: {out.blocking} blocking finding(s) open"
        )


@compliance_app.command("check")
def check(ctx: typer.Context, plan: PlanArg, json_out: JsonOpt = False) -> None:
    """Check the plan against every rule now and list the findings (blocking or advisory,
    each with its rule and legal source). Exits 5 (conflict) while a blocking finding is
    open: the gate is closed."""
    from dealvault.errors import Conflict
    from dealvault.flows.compliance import check_plan

    c = get(ctx)
    out = check_plan(c.stores(), actor=c.actor(), plan_id=plan)
    _print(ctx, out, json_out, verdict=False)
    if not out.passed:
        raise Conflict(f"the gate is closed: {out.blocking} blocking finding(s) open on plan "
                       f"#{out.plan} (waive or resolve them)")  # fmt: skip
    if not json_out:
        get(ctx).console.print("the gate is open: no blocking finding is open")


@compliance_app.command("findings")
def findings(ctx: typer.Context, plan: PlanArg, json_out: JsonOpt = False) -> None:
    """The plan's findings as of its last check (open, cleared, waived)."""
    from dealvault.flows.compliance import list_findings

    c = get(ctx)
    _print(ctx, list_findings(c.stores(), actor=c.actor(), plan_id=plan), json_out)


@compliance_app.command("waive")
def waive(
    ctx: typer.Context,
    finding: Annotated[int, typer.Argument(min=1, help="Finding id (see 'compliance check').")],
    reason: Annotated[str, typer.Option(help="Why the finding may stand (kept with it).")],
    json_out: JsonOpt = False,
) -> None:
    """Waive an open finding (counsel; never the plan's author), with a written reason. A
    later check that finds other counts opens it again."""
    from dealvault.flows.compliance import waive_finding

    c = get(ctx)
    out = waive_finding(c.stores(), actor=c.actor(), finding_id=finding, reason=reason)
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(f"finding #{out.id} ({out.rule}) waived by {out.waived_by}")


@compliance_app.command("rules")
def rules(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Validate this cross-border rules file instead of the shipped one (a change "
            "of law drafted before it is committed).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Every rule of the gate with its legal source and kind (blocking or advisory), and the
    cross-border rules file's version and date. Reads no store."""
    from dealvault.errors import InputError, Invalid
    from dealvault.files import read_text_file
    from dealvault.flows.crossborder import rules_catalogue

    c = get(ctx)
    if file is None:
        out = rules_catalogue()
    else:
        try:
            out = rules_catalogue(read_text_file(file), where=file.name)
        except Invalid as exc:
            raise InputError(str(exc), file=file.name) from None
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(
        table(
            "rules of the compliance gate",
            ["rule", "kind", "title", "legal source"],
            [[r.id, r.kind, r.title, r.source] for r in out.rules],
        )
    )
    c.console.print(
        table(
            f"cross-border rules: {out.crossborder_file}, version {out.crossborder_version}, "
            f"as of {out.crossborder_as_of}",
            ["source", "instrument and article, effective (applies from)"],
            [[k, v] for k, v in out.crossborder_sources.items()],
        )
    )


@compliance_app.command("report")
def report(
    ctx: typer.Context,
    plan: PlanArg,
    out: Annotated[
        Path, typer.Argument(help="The report to write: FILE.html or FILE.pdf (mode 0600).")
    ],
    json_out: JsonOpt = False,
) -> None:
    """The plan's compliance report for the deal file: the gate's state now (every rule
    evaluated again), the findings with their waivers, notices and objections, consents, the
    impact assessment, cross-border mechanisms, content review, retention rules, packages."""
    from dealvault.compliance.report import render_html
    from dealvault.documents import write_document
    from dealvault.files import check_output_file
    from dealvault.flows.compliance import compliance_report

    c = get(ctx)
    check_output_file(out, what="report")
    r = compliance_report(c.stores(), actor=c.actor(), plan_id=plan)
    fmt = write_document(out, render_html(r), what="compliance report")
    res = {"report": str(out), "format": fmt, "plan": r.plan, "gate_open": r.gate_open,
           "blocking_open": r.blocking_open, "findings": len(r.findings)}  # fmt: skip
    if json_out:
        print_json(c.console, res)
        return
    c.console.print(
        f"compliance report of plan #{r.plan} written to {out}: the gate is "
        + ("open" if r.gate_open else f"closed ({r.blocking_open} blocking finding(s) open)")
    )


# 'compliance review' lives in its own module; importing it registers it on compliance_app
import dealvault.cli.compliance_review  # noqa: E402, F401
