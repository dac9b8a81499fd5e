"""What every request gets: the server context, the client's address, the signed-in
principal (session cookie or bearer token) and the CSRF check."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dealvault.access import device as dev
from dealvault.access.principal import Principal
from dealvault.access.scopes import INCOMPLETE
from dealvault.accounts import secrets as sec
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.errors import Forbidden, Unauthenticated
from dealvault.flows import signin
from dealvault.flows.accounts import AccountRules, Mailer
from dealvault.flows.context import AppStores

#: the session cookie: __Host- means Secure, Path=/ and no Domain (browsers enforce it)
COOKIE = "__Host-dealvault"
CSRF_HEADER = "X-CSRF-Token"
#: the session's raw CSRF token for the web pages' forms (HttpOnly: no script reads it)
CSRF_COOKIE = "__Host-dealvault-csrf"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class ServerContext:
    """Built once by ``create_app``: settings, stores, the unlocked key ring, the mailer."""

    settings: Settings
    stores: AppStores
    keyring: KeyRing
    rules: AccountRules
    mailer: Mailer
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    #: who the server's monitor acts as (the operator who started it); None: no monitor
    monitor_actor: Principal | None = None


async def server(request: Request) -> ServerContext:
    """The server context (no I/O: run on the event loop, not in a worker thread)."""
    ctx = request.app.state.dealvault
    assert isinstance(ctx, ServerContext)
    return ctx


Ctx = Annotated[ServerContext, Depends(server)]


async def client_address(request: Request, ctx: Ctx) -> str | None:
    """The client's address: the peer's, or the nearest untrusted one of X-Forwarded-For
    when the peer is a configured proxy (a client cannot fake it past a trusted proxy)."""
    peer = request.client.host if request.client else None
    if peer is None or not _trusted(peer, ctx.trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, ctx.trusted):
            return hop[:64]
    return peer


def _trusted(addr: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


Client = Annotated[str | None, Depends(client_address)]


async def device_of(request: Request) -> str | None:
    """The device behind the request, as recorded (``dev:`` + a hash, never the value): the
    device header a client sends, else the browser's device cookie; None without a
    well-formed one."""
    return dev.device_id(request.headers.get(dev.HEADER)) or dev.device_id(
        request.cookies.get(dev.COOKIE)
    )


Device = Annotated[str | None, Depends(device_of)]


def principal(request: Request, ctx: Ctx, client: Client, device: Device) -> Principal:
    """The person behind the request: a bearer API token, or the session cookie (then a
    change needs the CSRF header), a session part-way through its sign-in included. No
    identity, no entry."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return signin.token_principal(
            ctx.stores, secret=auth[7:].strip(), client=client, device=device
        )
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise Unauthenticated("not signed in: sign in first (POST /api/auth/login)")
    who, csrf_digest = signin.session_principal(
        ctx.stores, rules=ctx.rules, secret=secret, client=client, device=device
    )
    if request.method not in _SAFE:
        given = request.headers.get(CSRF_HEADER, "")
        if not given or not sec.same(sec.digest(given), csrf_digest):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header", code="csrf")
    return who


#: a session part-way through signing in (password only, or an invitation link) is enough:
#: only the sign-in steps (second factor, TOTP set-up, sign-out) take it
Signing = Annotated[Principal, Depends(principal)]


async def signed_in(who: Signing) -> Principal:
    """The signed-in person: a session past its second factor, or an API token. A session
    with the password only gets nothing but the sign-in steps (not a token that would stand
    in for the second factor, nor a hint whether a deal exists)."""
    if not who.second_factor:
        raise Forbidden(INCOMPLETE, code="denied")
    return who


Actor = Annotated[Principal, Depends(signed_in)]
