"""Commands: init, org, person, deal."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dealvault.access.schemas import DealOut, OrganizationOut, PersonOut
from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.errors import Invalid
from dealvault.flows import admin as flows
from dealvault.flows.store import OperatorIn

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
CodeArg = Annotated[str, typer.Argument(help="Deal code.")]

org_app = typer.Typer(
    help="Organisations: the seller, bidders, intermediary, law firms, auditor.",
    no_args_is_help=True,
)
person_app = typer.Typer(
    help="People (accounts); each belongs to one organisation.", no_args_is_help=True
)
deal_app = typer.Typer(help="Deals and their stages, parties and members.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from dealvault.cli.accounts import invite_cmd

    person_app.command("invite")(invite_cmd)
    app.command("init")(init)
    app.add_typer(org_app, name="org")
    app.add_typer(person_app, name="person")
    app.add_typer(deal_app, name="deal")


def init(
    ctx: typer.Context,
    operator: Annotated[
        str | None,
        typer.Option(help="E-mail of the store's first operator (needed for a new store)."),
    ] = None,
    operator_name: Annotated[
        str | None, typer.Option(help="The first operator's display name.")
    ] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="The organisation that runs the store (created if new)."),
    ] = None,
    org_kind: Annotated[
        str, typer.Option(help="Kind of that organisation (seller, intermediary, ...).")
    ] = "seller",
    trial: Annotated[
        bool,
        typer.Option(
            "--trial",
            help="A single-machine trial: people of other organisations may act here by "
            "naming themselves (--as); every report says so.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create the store: migrate both databases, make (or check) the master key, and record
    its first operator (the person of the organisation that runs the store)."""
    c = get(ctx)
    first = None
    if operator is not None or org is not None:
        if not (operator and org):
            raise Invalid("give both --operator EMAIL and --org ORGANISATION")
        first = OperatorIn(
            email=operator,
            name=operator_name or operator.split("@", 1)[0],
            organization=org,
            organization_kind=org_kind,
        )
    passphrase = None
    s = c.settings
    if s.key_provider == "passphrase" and s.passphrase is None:
        if s.resolved_key_file.exists():
            passphrase = typer.prompt("Passphrase for the master key file", hide_input=True)
        else:
            passphrase = typer.prompt(
                "New passphrase for the master key file (8+ characters)",
                hide_input=True,
                confirmation_prompt=True,
            )
    from dealvault.flows.setup import init_store

    out, stores, _ = init_store(s, passphrase=passphrase, operator=first, trial=trial)
    stores.dispose()
    if json_out:
        print_json(c.console, out)
    else:
        c.console.print(kv_table("dealvault store ready", list(out.model_dump().items())))


# -- organisations ---------------------------------------------------------------------
def _orgs(orgs: list[OrganizationOut]) -> Table:
    return table(
        "organisations",
        ["id", "name", "kind", "USCC", "created"],
        [(o.id, o.name, o.kind, o.uscc, f"{o.created_at:%Y-%m-%d}") for o in orgs],
    )


@org_app.command("add")
def org_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Organisation name.")],
    kind: Annotated[
        str, typer.Option(help="seller, bidder, buyer, intermediary, law_firm or auditor.")
    ],
    uscc: Annotated[str | None, typer.Option(help="Unified social credit code (checked).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Register an organisation."""
    c = get(ctx)
    org = flows.create_organization(c.stores(), name=name, kind=kind, uscc=uscc, actor=c.actor())
    print_json(c.console, org) if json_out else c.console.print(_orgs([org]))


@org_app.command("list")
def org_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List organisations."""
    c = get(ctx)
    orgs = flows.list_organizations(c.stores(), actor=c.actor(), kind=kind)
    print_json(c.console, orgs) if json_out else c.console.print(_orgs(orgs))


@org_app.command("show")
def org_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Organisation name or id.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one organisation (by name or id)."""
    c = get(ctx)
    org = flows.show_organization(c.stores(), actor=c.actor(), name=name)
    print_json(c.console, org) if json_out else c.console.print(
        kv_table(org.name, list(org.model_dump().items()))
    )


# -- people ----------------------------------------------------------------------------
def _people(people: list[PersonOut]) -> Table:
    return table(
        "people",
        ["id", "e-mail", "name", "organisation"],
        [(p.id, p.email, p.name, p.organization) for p in people],
    )


@person_app.command("add")
def person_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address (the account id).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    org: Annotated[str, typer.Option("--org", help="Organisation the person belongs to.")],
    json_out: JsonOpt = False,
) -> None:
    """Register a person (an account) in an organisation."""
    c = get(ctx)
    p = flows.create_person(c.stores(), email=email, name=name, organization=org, actor=c.actor())
    print_json(c.console, p) if json_out else c.console.print(_people([p]))


@person_app.command("list")
def person_list(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List people."""
    c = get(ctx)
    people = flows.list_persons(c.stores(), actor=c.actor(), organization=org)
    print_json(c.console, people) if json_out else c.console.print(_people(people))


@person_app.command("show")
def person_show(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    json_out: JsonOpt = False,
) -> None:
    """Show one person."""
    c = get(ctx)
    p = flows.show_person(c.stores(), actor=c.actor(), email=email)
    print_json(c.console, p) if json_out else c.console.print(
        kv_table(p.email, list(p.model_dump().items()))
    )


# -- deals -----------------------------------------------------------------------------
def _show_deal(ctx: typer.Context, deal: DealOut, json_out: bool) -> None:
    c = get(ctx)
    if json_out:
        print_json(c.console, deal)
        return
    c.console.print(
        kv_table(
            f"deal {deal.code}",
            [
                ("name", deal.name),
                ("kind", deal.kind),
                ("stage", deal.stage),
                ("frozen", "yes" if deal.frozen else "no"),
                ("created", f"{deal.created_at:%Y-%m-%d %H:%M}"),
            ],
        )
    )
    c.console.print(
        table(
            "parties",
            ["organisation", "role", "winner"],
            [(p.organization, p.role, "yes" if p.is_winner else "") for p in deal.parties],
        )
    )
    if deal.members:
        c.console.print(
            table(
                "members",
                ["person", "organisation", "role"],
                [(m.person, m.organization, m.role) for m in deal.members],
            )
        )
    c.console.print(
        table(
            "stage history",
            ["from", "to", "by", "at", "reason"],
            [
                (h.from_stage, h.to_stage, h.actor, f"{h.at:%Y-%m-%d %H:%M}", h.reason)
                for h in deal.history
            ],
        )
    )


@deal_app.command("create")
def deal_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. acme-2026.")],
    name: Annotated[str, typer.Option(help="Deal name.")],
    seller: Annotated[str, typer.Option(help="Seller organisation.")],
    bidder: Annotated[
        list[str] | None, typer.Option(help="Bidder organisation (repeatable).")
    ] = None,
    kind: Annotated[str, typer.Option(help="equity, asset or merger.")] = "equity",
    steward: Annotated[
        list[str] | None,
        typer.Option(help="E-mail of a first seller steward (repeatable; not yourself)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a deal at stage preparation (store operators), naming its first stewards."""
    c = get(ctx)
    deal = flows.create_deal(
        c.stores(),
        code=code,
        name=name,
        kind=kind,
        seller=seller,
        bidders=bidder or [],
        stewards=steward or [],
        actor=c.actor(),
    )
    _show_deal(ctx, deal, json_out)


@deal_app.command("show")
def deal_show(ctx: typer.Context, code: CodeArg, json_out: JsonOpt = False) -> None:
    """Show a deal: stage, parties, members and stage history."""
    c = get(ctx)
    remote = c.remote()
    deal = (
        remote.show_deal(code)
        if remote
        else flows.show_deal(c.stores(), actor=c.actor(), code=code)
    )
    _show_deal(ctx, deal, json_out)


@deal_app.command("list")
def deal_list(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Option(help="Only deals at this stage.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List deals."""
    c = get(ctx)
    remote = c.remote()
    if remote:
        deals = [d for d in remote.list_deals() if stage is None or d.stage == stage]
    else:
        deals = flows.list_deals(c.stores(), actor=c.actor(), stage=stage)
    if json_out:
        print_json(c.console, deals)
    else:
        c.console.print(
            table(
                "deals",
                ["code", "name", "kind", "stage", "seller", "bidders"],
                [
                    (
                        d.code,
                        d.name,
                        d.kind,
                        d.stage,
                        ", ".join(p.organization for p in d.parties if p.role == "seller"),
                        ", ".join(
                            p.organization + (" (winner)" if p.is_winner else "")
                            for p in d.parties
                            if p.role == "bidder"
                        ),
                    )
                    for d in deals
                ],
            )
        )


@deal_app.command("add-party")
def deal_add_party(
    ctx: typer.Context,
    code: CodeArg,
    org: Annotated[str, typer.Option("--org", help="Organisation to add.")],
    role: Annotated[str, typer.Option(help="bidder, intermediary, counsel or auditor.")] = "bidder",
    json_out: JsonOpt = False,
) -> None:
    """Add a party (a further bidder, the intermediary, counsel, the auditor) to a deal."""
    _show_deal(
        ctx,
        flows.add_party(
            get(ctx).stores(),
            deal=code,
            organization=org,
            role=role,
            actor=get(ctx).actor(),
        ),
        json_out,
    )


@deal_app.command("add-member")
def deal_add_member(
    ctx: typer.Context,
    code: CodeArg,
    email: Annotated[str, typer.Option("--person", help="E-mail of the person.")],
    role: Annotated[
        str,
        typer.Option(
            help="seller_steward, bidder_business, bidder_clean_team, "
            "buyer_receiver, counsel, intermediary, security_officer, auditor."
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Give a person a role in a deal (their organisation must be a party)."""
    _show_deal(
        ctx,
        flows.add_member(
            get(ctx).stores(), deal=code, email=email, role=role, actor=get(ctx).actor()
        ),
        json_out,
    )


@deal_app.command("advance")
def deal_advance(
    ctx: typer.Context,
    code: CodeArg,
    to: Annotated[str | None, typer.Option(help="Target stage (default: the next one).")] = None,
    winner: Annotated[str | None, typer.Option(help="Winning bidder (needed for closing).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a deal to its next stage; illegal moves are refused with the legal ones listed."""
    c = get(ctx)
    deal = flows.advance_deal(
        c.stores(),
        code=code,
        to=to,
        winner=winner,
        actor=c.actor(),
        reason=reason,
    )
    _show_deal(ctx, deal, json_out)


@deal_app.command("terminate")
def deal_terminate(
    ctx: typer.Context,
    code: CodeArg,
    reason: Annotated[str | None, typer.Option(help="Why the deal ends.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """End a deal before closing."""
    c = get(ctx)
    deal = flows.terminate_deal(c.stores(), code=code, actor=c.actor(), reason=reason)
    _show_deal(ctx, deal, json_out)


@deal_app.command("freeze")
def deal_freeze(
    ctx: typer.Context,
    code: CodeArg,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = ...,  # type: ignore[assignment]
    json_out: JsonOpt = False,
) -> None:
    """Temporary isolation: stop every access to the deal at once (steward or security officer)."""
    c = get(ctx)
    deal = flows.set_frozen(c.stores(), code=code, actor=c.actor(), frozen=True, reason=reason)
    _show_deal(ctx, deal, json_out)


@deal_app.command("unfreeze")
def deal_unfreeze(
    ctx: typer.Context,
    code: CodeArg,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = ...,  # type: ignore[assignment]
    json_out: JsonOpt = False,
) -> None:
    """Lift the isolation of a frozen deal (steward or security officer)."""
    c = get(ctx)
    deal = flows.set_frozen(c.stores(), code=code, actor=c.actor(), frozen=False, reason=reason)
    _show_deal(ctx, deal, json_out)
