"""Commands: compliance pia generate, list, show, export, sign (the personal information
impact assessment of a transfer plan, PIPL art. 55-56)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PlanArg = Annotated[int, typer.Argument(min=1, help="Transfer plan id (see 'plan list').")]
PiaArg = Annotated[
    int, typer.Argument(min=1, help="Impact assessment id (see 'compliance pia list').")
]

pia_app = typer.Typer(
    help="The personal information impact assessment of a transfer plan (PIPL art. 55-56): "
    "generate, list, show, export, sign.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(pia_app, name="pia")


def _print(ctx: typer.Context, out: object, json_out: bool) -> None:
    from dealvault.compliance.pia_schemas import PiaOut

    c = get(ctx)
    assert isinstance(out, PiaOut)
    if json_out:
        print_json(c.console, out)
        return
    b = out.inputs["basis"]
    signed = ", ".join(f"{s.role} {s.person}" for s in out.signoffs) or "none"
    c.console.print(kv_table(f"impact assessment #{out.id} of transfer plan #{out.plan}", [
        ("deal", out.deal), ("version", out.version),
        ("generated", f"{out.generated_at:%Y-%m-%d %H:%M} UTC by {out.generated_by}"),
        ("kept until", f"{out.kept_until:%Y-%m-%d}"), ("recipient", b["recipient"]),
        ("customers", b["eligible"]), ("destination", b["destination"]),
        ("overall risk", f"{out.overall_zh} {out.overall_en}"),
        ("stale", "yes: generate it again" if out.stale else "no"), ("sign-offs", signed),
        ("sha256", out.sha256),
    ]))  # fmt: skip
    c.console.print(table("risks", ["risk", "likelihood", "impact", "rating"], [
        [f"{r.zh} {r.en}", r.likelihood, r.impact, f"{r.level_zh} {r.level_en}"] for r in out.risks
    ]))  # fmt: skip


@pia_app.command("generate")
def generate_cmd(ctx: typer.Context, plan: PlanArg, json_out: JsonOpt = False) -> None:
    """Generate a new version of the plan's impact assessment from the store's facts (the
    inventory, what was counted at import, the plan, the controls in place): risks rated,
    counts only (seller steward or security officer)."""
    from dealvault.flows.compliance_pia import generate

    c = get(ctx)
    _print(ctx, generate(c.stores(), c.keyring(), actor=c.actor(), plan_id=plan), json_out)


@pia_app.command("list")
def list_cmd(ctx: typer.Context, plan: PlanArg, json_out: JsonOpt = False) -> None:
    """The plan's impact assessments, oldest first, with their sign-offs."""
    from dealvault.flows.compliance_pia import list_pias

    c = get(ctx)
    lines = list_pias(c.stores(), actor=c.actor(), plan_id=plan)
    if json_out:
        print_json(c.console, lines)
        return
    c.console.print(table(f"impact assessments of transfer plan #{plan}",
                          ["id", "version", "generated", "by", "risk", "sign-offs", "stale"], [
        [f"#{x.id}", x.version, f"{x.generated_at:%Y-%m-%d %H:%M}", x.generated_by, x.overall_en,
         ", ".join(x.signoffs) or "none", "yes" if x.stale else "no"] for x in lines
    ]))  # fmt: skip


@pia_app.command("show")
def show_cmd(ctx: typer.Context, pia: PiaArg, json_out: JsonOpt = False) -> None:
    """One impact assessment: its facts, risks, rating and sign-offs."""
    from dealvault.flows.compliance_pia import show

    c = get(ctx)
    _print(ctx, show(c.stores(), actor=c.actor(), pia_id=pia), json_out)


@pia_app.command("export")
def export_cmd(
    ctx: typer.Context,
    pia: PiaArg,
    out: Annotated[Path, typer.Argument(help="pia.html, or pia.pdf (WeasyPrint).")],
    json_out: JsonOpt = False,
) -> None:
    """Write the impact assessment as a document for the deal file (Chinese headings with
    English beside them)."""
    from dealvault.compliance.pia_report import render_html
    from dealvault.documents import write_document
    from dealvault.files import check_output_file
    from dealvault.flows.compliance_pia import show

    c = get(ctx)
    check_output_file(out, what="assessment")
    data = show(c.stores(), actor=c.actor(), pia_id=pia, export=True)
    fmt = write_document(out, render_html(data), what="assessment")
    res = {"assessment": str(out), "format": fmt, "pia": data.id, "signed_off": data.signed_off}
    print_json(c.console, res) if json_out else c.console.print(
        kv_table("impact assessment written", list(res.items()))
    )


@pia_app.command("sign")
def sign_cmd(
    ctx: typer.Context,
    pia: PiaArg,
    as_role: Annotated[
        str,
        typer.Option("--as-role", help="counsel or security_officer: a role you hold in the deal."),
    ],
    note: Annotated[str | None, typer.Option(help="A note kept with the sign-off.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign the plan's latest impact assessment off as counsel or as the security officer
    (each role once; never the plan's author)."""
    from dealvault.flows.compliance_pia import sign

    c = get(ctx)
    out = sign(c.stores(), actor=c.actor(), pia_id=pia, role=as_role, note=note)
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(f"impact assessment #{out.id} signed off as {as_role}"
                    + (": complete" if out.signed_off else ""))  # fmt: skip
