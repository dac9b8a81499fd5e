"""``dealvault login`` / ``logout``: sign in to a server as a party; until logout, the party's
commands (deals, inventory, access requests, view, the deal's audit log) go there."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dealvault.cli.context import get
from dealvault.errors import InputError, Invalid
from dealvault.files import read_text_file


def register(app: typer.Typer) -> None:
    app.command("login")(login_cmd)
    app.command("logout")(logout_cmd)


def login_cmd(
    ctx: typer.Context,
    server: Annotated[
        str, typer.Option(help="The server's address, e.g. https://dataroom.example.")
    ],
    email: Annotated[str | None, typer.Option(help="Your e-mail (password sign-in).")] = None,
    token_stdin: Annotated[
        bool, typer.Option(help="Read a personal API token from standard input instead.")
    ] = False,
    ca_file: Annotated[
        Path | None, typer.Option(help="CA certificate to trust for this server (PEM).")
    ] = None,
) -> None:
    """Sign in to a server: password and TOTP code (asked for; never as options), or an API
    token on standard input. The session is kept in your config directory (mode 0600), next
    to this computer's device value (random, made once, mode 0600), which every request sends
    so the server's log tells your devices apart without learning anything about them."""
    from dealvault import remote

    c = get(ctx)
    if not server.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise Invalid("the server address must start with https:// (plain http only on loopback)")
    if ca_file is not None and "-----BEGIN CERTIFICATE-----" not in read_text_file(
        ca_file, encoding="ascii"
    ):
        raise InputError("not a PEM certificate", file=ca_file.name)
    ca = str(ca_file) if ca_file else None
    if token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            raise Invalid("no token on standard input")
        login = remote.with_token(server=server, token=token, ca_file=ca)
    else:
        if not email:
            raise Invalid("give --email (or --token-stdin)")
        password = typer.prompt("Password", hide_input=True)
        code = typer.prompt("TOTP code (or a recovery code)")
        login = remote.sign_in(server=server, email=email, password=password, code=code, ca_file=ca)
    path = remote.login_file()
    login.save(path)
    who = login.email or "an API token"
    c.console.print(f"signed in to {server} as {who}; party commands now go there (logout ends it)")


def logout_cmd(ctx: typer.Context) -> None:
    """End the server session and forget it here; commands work on the local store again."""
    from dealvault import remote

    c = get(ctx)
    path = remote.login_file()
    login = remote.Login.load(path)
    if login is None:
        c.console.print("not signed in to a server")
        return
    remote.Remote(login).logout()
    path.unlink()
    c.console.print(f"signed out of {login.server}")
