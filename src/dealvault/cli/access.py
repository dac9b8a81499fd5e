"""Commands: access request, approve, deny, revoke, list, show (multi-approver grants)."""

from __future__ import annotations

from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.flows import access_requests as flows
from dealvault.flows.access_requests import GrantOut, RequestOut

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RequestArg = Annotated[int, typer.Argument(help="Access request id.")]

access_app = typer.Typer(
    help="Access requests: ask for a level of a dataset's categories; distinct people in the "
    "policy's roles approve (never the requester); the result is a time-boxed, revocable grant.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(access_app, name="access")


def _when(value: object) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _grant_items(g: GrantOut) -> list[tuple[str, object]]:
    return [
        ("grant", g.id),
        ("state", g.state),
        ("holder", g.person),
        ("level", g.level),
        ("categories", ", ".join(g.categories)),
        ("dataset", g.dataset),
        ("rows", f"{g.rows_used} of {g.row_cap}" if g.row_cap is not None else "no cap"),
        ("granted", _when(g.granted_at)),
        ("expires", _when(g.expires_at)),
        ("revoked", f"{_when(g.revoked_at)} ({g.revoke_reason})" if g.revoked_at else None),
    ]


def _show(ctx: typer.Context, r: RequestOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, r)
        return
    c.console.print(
        kv_table(
            f"access request {r.id} ({r.status})",
            [
                ("deal", r.deal),
                ("dataset", r.dataset),
                ("requester", r.requester),
                ("level", r.level),
                ("categories", ", ".join(r.categories)),
                ("purpose", r.purpose),
                ("duration", f"{r.duration_days} days"),
                ("row cap", r.row_cap if r.row_cap is not None else "none"),
                ("requested", _when(r.created_at)),
                ("decided", _when(r.decided_at)),
                ("approver roles", ", ".join(r.required_roles)),
                ("still needed", ", ".join(r.still_needed) or "-"),
            ],
        )
    )
    if r.approvals:
        c.console.print(
            table(
                "decisions",
                ["approver", "role", "decision", "at", "comment"],
                [(a.approver, a.role, a.decision, _when(a.at), a.comment) for a in r.approvals],
            )
        )
    if r.grant is not None:
        c.console.print(kv_table(f"grant {r.grant.id}", _grant_items(r.grant)))


@access_app.command("request")
def request_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="Deal code.")],
    dataset: Annotated[str, typer.Option(help="Dataset name, e.g. crm.")],
    category: Annotated[
        list[str],
        typer.Option(
            help="Data category (repeatable or comma-separated): identity, contact, "
            "transaction, preference, sensitive, free_text."
        ),
    ],
    level: Annotated[
        str,
        typer.Option(help="metadata, aggregate, anonymized, pseudonymized, masked or full."),
    ],
    purpose: Annotated[str, typer.Option(help="Why the access is needed (recorded).")],
    days: Annotated[int, typer.Option(help="How long the grant should last (1-365 days).")],
    row_cap: Annotated[
        int | None, typer.Option(help="Most rows the grant may deliver in all.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask for access; the acting person (--as) is the requester."""
    c = get(ctx)
    cats = [p.strip() for item in category for p in item.split(",") if p.strip()]
    remote = c.remote()
    if remote:
        body = {"dataset": dataset, "categories": cats, "level": level, "purpose": purpose,
                "duration_days": days, "row_cap": row_cap}  # fmt: skip
        _show(ctx, remote.request_access(deal=deal, **body), json_out)
        return
    r = flows.request_access(
        c.stores(),
        actor=c.actor(),
        deal=deal,
        dataset=dataset,
        categories=cats,
        level=level,
        purpose=purpose,
        duration_days=days,
        row_cap=row_cap,
    )
    _show(ctx, r, json_out)


@access_app.command("approve")
def approve_cmd(
    ctx: typer.Context,
    request_id: RequestArg,
    comment: Annotated[str | None, typer.Option(help="A note for the record.")] = None,
    role: Annotated[
        str | None, typer.Option(help="Which of your roles to approve in (default: chosen).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Approve a request in one of your roles; the last approval needed makes the grant."""
    c = get(ctx)
    remote = c.remote()
    r = (
        remote.approve_request(request_id, comment=comment, role=role)
        if remote
        else flows.approve_request(
            c.stores(), actor=c.actor(), request_id=request_id, comment=comment, role=role
        )
    )
    _show(ctx, r, json_out)


@access_app.command("deny")
def deny_cmd(
    ctx: typer.Context,
    request_id: RequestArg,
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    json_out: JsonOpt = False,
) -> None:
    """Deny a request (final)."""
    c = get(ctx)
    remote = c.remote()
    r = (
        remote.deny_request(request_id, reason=reason)
        if remote
        else flows.deny_request(c.stores(), actor=c.actor(), request_id=request_id, reason=reason)
    )
    _show(ctx, r, json_out)


@access_app.command("revoke")
def revoke_cmd(
    ctx: typer.Context,
    grant_id: Annotated[int, typer.Argument(help="Grant id (see 'access show').")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    json_out: JsonOpt = False,
) -> None:
    """Revoke a grant at once (seller steward or security officer)."""
    c = get(ctx)
    g = flows.revoke_grant(c.stores(), actor=c.actor(), grant_id=grant_id, reason=reason)
    if json_out:
        print_json(c.console, g)
    else:
        c.console.print(kv_table(f"grant {g.id} revoked", _grant_items(g)))


@access_app.command("list")
def list_cmd(
    ctx: typer.Context,
    deal: Annotated[str, typer.Option(help="The deal.")],
    status: Annotated[
        str | None, typer.Option(help="Only this status: pending, approved or denied.")
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only requests I filed.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List access requests, oldest first."""
    c = get(ctx)
    remote = c.remote()
    rows = (
        remote.list_requests(deal=deal, status=status, mine=mine)
        if remote
        else flows.list_requests(c.stores(), deal=deal, status=status, mine=mine, actor=c.actor())
    )
    if json_out:
        print_json(c.console, rows)
        return
    c.console.print(
        table(
            "access requests",
            [
                "id",
                "deal",
                "dataset",
                "requester",
                "level",
                "categories",
                "status",
                "needs",
                "grant",
            ],
            [
                (
                    r.id,
                    r.deal,
                    r.dataset,
                    r.requester,
                    r.level,
                    ", ".join(r.categories),
                    r.status,
                    ", ".join(r.still_needed),
                    f"{r.grant.id} ({r.grant.state})" if r.grant else None,
                )
                for r in rows
            ],
        )
    )


@access_app.command("show")
def show_cmd(ctx: typer.Context, request_id: RequestArg, json_out: JsonOpt = False) -> None:
    """Show a request: decisions so far, roles still needed, and its grant if any."""
    c = get(ctx)
    remote = c.remote()
    r = (
        remote.show_request(request_id)
        if remote
        else flows.show_request(c.stores(), actor=c.actor(), request_id=request_id)
    )
    _show(ctx, r, json_out)
