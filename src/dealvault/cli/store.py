"""Commands: store show|grant|revoke — where the store is, who runs it, store-wide roles."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json, table
from dealvault.flows import store as flows

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
EmailArg = Annotated[str, typer.Argument(help="E-mail of the person.")]
RoleOpt = Annotated[str, typer.Option("--role", help="operator, training_admin or canary_gateway.")]

store_app = typer.Typer(
    help="The store itself: its locations, key provider, operators and store-wide roles.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")


def _hidden(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@store_app.command("show")
def show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Which store this command works on (databases, key provider, key files), who runs it,
    whether it is a single-machine trial, and who holds store-wide roles (operators)."""
    c = get(ctx)
    s = c.settings
    info = flows.show_store(c.stores(), actor=c.actor())
    where = {
        "home": str(s.home.resolve()),
        "records": _hidden(s.resolved_database_url),
        "keystore": _hidden(s.resolved_keystore_url),
        "key_provider": s.key_provider,
        "key_file": str(s.resolved_key_file) if s.key_provider == "passphrase" else None,
        "settings_file": str(s.settings_file) if s.settings_file else None,
    }
    if json_out:
        print_json(c.console, {**where, **info.model_dump()})
        return
    rows = [*where.items(), ("run by", info.operator_organization)]
    rows.append(("trial store", "yes: identities are asserted" if info.trial else "no"))
    c.console.print(kv_table("dealvault store", rows))
    c.console.print(
        table(
            "store roles",
            ["person", "organisation", "role", "granted by", "since"],
            [
                (r.person, r.organization, r.role, r.granted_by, r.granted_at[:10])
                for r in info.roles
            ],
        )
    )


@store_app.command("grant")
def grant(ctx: typer.Context, email: EmailArg, role: RoleOpt, json_out: JsonOpt = False) -> None:
    """Grant a store-wide role to another person (operators only; never to yourself)."""
    c = get(ctx)
    out = flows.grant_role(c.stores(), actor=c.actor(), email=email, role=role)
    if json_out:
        print_json(c.console, out)
    else:
        c.console.print(f"{out.person} now holds the store role {out.role}")


@store_app.command("revoke")
def revoke(ctx: typer.Context, email: EmailArg, role: RoleOpt, json_out: JsonOpt = False) -> None:
    """Revoke a store-wide role (operators only; the last operator stays)."""
    c = get(ctx)
    out = flows.revoke_role(c.stores(), actor=c.actor(), email=email, role=role)
    if json_out:
        print_json(c.console, out)
    else:
        c.console.print(f"{out.person} no longer holds the store role {out.role}")
