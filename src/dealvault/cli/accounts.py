"""Commands for sign-in accounts: invite a person to the server, disable or enable one."""

from __future__ import annotations

from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.cli.output import kv_table, print_json

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DealOpt = Annotated[str, typer.Option("--deal", help="Deal code.")]

account_app = typer.Typer(
    help="Sign-in accounts on the server: disable or enable a deal member's sign-in.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")


def invite_cmd(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail of the person to invite.")],
    deal: DealOpt,
    role: Annotated[str, typer.Option(help="Their role in the deal (e.g. bidder_clean_team).")],
    name: Annotated[
        str | None, typer.Option(help="Display name (for a person not registered yet).")
    ] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="Their organisation, a party to the deal (a new person)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Invite a person to the server with a role in a deal: a one-time link (valid for
    DEALVAULT_INVITE_EXPIRY_HOURS) is mailed to them through the configured SMTP server.
    They set a password and a second factor there; the link is never shown to you."""
    from dealvault import mail
    from dealvault.flows import accounts

    c = get(ctx)
    settings = c.settings

    def send(to: str, subject: str, body: str) -> None:
        mail.send(settings, to=to, subject=subject, body=body)

    out = accounts.invite(
        c.stores(),
        actor=c.actor(),
        rules=accounts.AccountRules.from_settings(settings),
        mailer=send,
        deal=deal,
        email=email,
        role=role,
        name=name,
        organization=org,
    )
    if json_out:
        print_json(c.console, out)
        return
    c.console.print(
        f"invited {out.email} to deal {out.deal} as {out.role}; the link was mailed and works "
        f"until {out.expires_at:%Y-%m-%d %H:%M} UTC"
    )


def _set(ctx: typer.Context, email: str, deal: str, *, disabled: bool, json_out: bool) -> None:
    from dealvault.flows import accounts

    c = get(ctx)
    out = accounts.set_disabled(
        c.stores(), actor=c.actor(), deal=deal, email=email, disabled=disabled
    )
    if json_out:
        print_json(c.console, out)
    else:
        c.console.print(kv_table(out.email, list(out.model_dump().items())))


@account_app.command("disable")
def disable_cmd(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail of the deal member.")],
    deal: DealOpt,
    json_out: JsonOpt = False,
) -> None:
    """Disable a deal member's sign-in: every session and token stops at the next request."""
    _set(ctx, email, deal, disabled=True, json_out=json_out)


@account_app.command("enable")
def enable_cmd(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail of the deal member.")],
    deal: DealOpt,
    json_out: JsonOpt = False,
) -> None:
    """Enable a deal member's sign-in again."""
    _set(ctx, email, deal, disabled=False, json_out=json_out)
