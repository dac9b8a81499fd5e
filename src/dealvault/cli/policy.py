"""Commands: policy show, validate, set, history, check (the access policy run by Cedar)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dealvault.access import policy as pol
from dealvault.access.stages import Stage
from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Invalid
from dealvault.flows import policy as flows
from dealvault.flows.policy import PolicyOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
FileArg = Annotated[Path, typer.Argument(help="Policy file (TOML, UTF-8).")]
CedarOpt = Annotated[bool, typer.Option("--cedar", help="Also print the compiled Cedar policy.")]
DealOpt = Annotated[
    str | None, typer.Option(help="The deal (default: the shipped default policy).")
]

policy_app = typer.Typer(
    help="The access policy: the stage x role x category disclosure ceiling, versioned.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise Invalid(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise Invalid(f"{path}: cannot be read ({exc.strerror})") from None
    if not text.strip():
        raise Invalid(f"{path}: the file is empty")
    return text


def _print_policy(ctx: typer.Context, p: PolicyOut, *, json_out: bool, cedar: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, p)
        return
    c.console.print(
        kv_table(
            f"access policy version {p.version} ({p.source})",
            [
                ("description", escape(p.description)),
                ("sha256", p.sha256),
                ("set", f"{p.created_at:%Y-%m-%d %H:%M} by {p.actor}" if p.created_at else None),
                ("comment", escape(p.comment) if p.comment else None),
                ("governed above", f"{p.governed_above} (agreement + training + grant)"),
                ("training course", p.training_course),
                ("approvers", ", ".join(p.approvals_default)),
                ("approvers (sensitive)", ", ".join(p.approvals_sensitive)),
                ("audit log readers", ", ".join(p.audit_log_roles)),
                ("a freeze allows only", ", ".join(p.frozen_allow)),
                ("deal", p.deal or "(the shipped default)"),
            ],
        )
    )
    stages = [s.value for s in Stage]
    c.console.print(
        table(
            "ceiling (role x stage)",
            ["role", *stages],
            [(role, *(row[s] for s in stages)) for role, row in p.matrix.items()],
        )
    )
    c.console.print(
        table(
            "category caps",
            ["category", "never above", "except"],
            [(cap.category, cap.level, ", ".join(cap.exempt)) for cap in p.category_caps],
        )
    )
    if cedar and p.cedar:
        c.console.print(p.cedar, markup=False, highlight=False)


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    deal: DealOpt = None,
    cedar: CedarOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the policy in force for a deal (without --deal: the shipped default): the matrix,
    category caps, approvers and who may take each action (--cedar: the Cedar)."""
    c = get(ctx)
    if deal is None:
        p = flows.shipped_policy(cedar=cedar)
    else:
        p = flows.show_policy(c.stores(), actor=c.actor(), deal=deal, cedar=cedar)
    _print_policy(ctx, p, json_out=json_out, cedar=cedar)


@policy_app.command("validate")
def policy_validate(
    ctx: typer.Context, file: FileArg, cedar: CedarOpt = False, json_out: JsonOpt = False
) -> None:
    """Check a policy file: known names, valid Cedar, and no loosening of the default."""
    p = flows.validate_policy(text=_read(file), cedar=cedar)
    if not json_out:
        get(ctx).console.print(f"{file}: valid (sha256 {p.sha256})", markup=False, soft_wrap=True)
    _print_policy(ctx, p, json_out=json_out, cedar=cedar)


@policy_app.command("set")
def policy_set(
    ctx: typer.Context,
    file: FileArg,
    deal: Annotated[str, typer.Option(help="The deal the policy governs.")],
    comment: Annotated[str, typer.Option(help="Why the policy changes, for the record.")],
    json_out: JsonOpt = False,
) -> None:
    """Put a policy file in force for one deal as its next version (seller stewards of that
    deal; it may only tighten the shipped default; audited)."""
    c = get(ctx)
    v = flows.set_policy(c.stores(), actor=c.actor(), deal=deal, text=_read(file), comment=comment)
    if json_out:
        print_json(c.console, v)
    else:
        c.console.print(
            f"access policy version {v.version} in force (sha256 {v.sha256})", soft_wrap=True
        )


@policy_app.command("history")
def policy_history(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    json_out: JsonOpt = False,
) -> None:
    """List a deal's stored policy versions (none: the shipped default is in force)."""
    c = get(ctx)
    versions = flows.policy_history(c.stores(), actor=c.actor(), deal=deal)
    if json_out:
        print_json(c.console, versions)
        return
    if not versions:
        c.console.print(
            "no stored policy versions: the shipped default (version 0) is in force", soft_wrap=True
        )
        return
    c.console.print(
        table(
            "access policy versions",
            ["version", "in force", "set", "by", "sha256", "comment"],
            [
                (
                    v.version,
                    "yes" if v.in_force else "",
                    f"{v.created_at:%Y-%m-%d %H:%M}",
                    v.actor,
                    v.sha256[:16],
                    escape(v.comment) if v.comment else None,
                )
                for v in versions
            ],
        )
    )


@policy_app.command("check")
def policy_check(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="Member role, e.g. bidder_clean_team.")],
    stage: Annotated[str, typer.Option(help="Deal stage, e.g. due_diligence.")],
    category: Annotated[
        list[str] | None, typer.Option(help="Data category (repeatable), e.g. sensitive.")
    ] = None,
    frozen: Annotated[bool, typer.Option(help="As if the deal were frozen.")] = False,
    deal: DealOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the ceiling of a role at a stage (for categories), and the decision per level."""
    c = get(ctx)
    cats = category or []
    if deal is None:
        out = flows.check(
            pol.default_policy(), role=role, stage=stage, categories=cats, frozen=frozen
        )
    else:
        out = flows.check_policy(
            c.stores(),
            actor=c.actor(),
            deal=deal,
            role=role,
            stage=stage,
            categories=cats,
            frozen=frozen,
        )
    if json_out:
        print_json(c.console, out)
        return
    named = ", ".join(out.categories) or "any"
    c.console.print(
        f"ceiling for {out.role} at {out.stage} ({named}): {out.ceiling}"
        f"  [policy version {out.policy_version}]",
        markup=False,
        soft_wrap=True,
    )
    c.console.print(
        table(
            None,
            ["level", "decision", "why"],
            [
                (lc.level, "allow" if lc.allowed else "deny", escape("; ".join(lc.reasons)))
                for lc in out.levels
            ],
        )
    )
    c.console.print(f"audit log: {'allow' if out.audit_log else 'deny'}")
