"""Signing in and one's own account: password, second factor, sessions, API tokens."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from dealvault.api.cookies import forget_session, keep_session
from dealvault.api.deps import Actor, Client, Ctx, Device, Signing
from dealvault.api.errors import COMMON, MAILING, Text, error_responses
from dealvault.flows import accounts, own_account, passkeys, signin

router = APIRouter(prefix="/api", tags=["account"], responses=error_responses(*COMMON))


class LoginIn(BaseModel):
    email: Text = Field(max_length=254)
    password: Text = Field(max_length=1024)


class CodeIn(BaseModel):
    code: Text = Field(max_length=64, description="A 6-digit TOTP code or a recovery code.")


class LinkIn(BaseModel):
    secret: Text = Field(max_length=200, description="The secret part of the mailed link.")
    password: Text = Field(max_length=1024)


class EmailIn(BaseModel):
    email: Text = Field(max_length=254)


class TokenIn(BaseModel):
    name: Text = Field(max_length=100)
    scopes: list[Annotated[Text, Field(max_length=20)]] = Field(
        description="read, request, approve, manage", max_length=4
    )
    days: int = Field(default=30, ge=1, le=365)


class SignedIn(BaseModel):
    """A sign-in step's result; the session secret is in the cookie only."""

    session_id: str
    email: str
    csrf: str = Field(description="Send it as X-CSRF-Token with every change.")
    next: str | None = Field(description="totp, enrol, or null when signed in")


def _signed_in(response: Response, ctx: Ctx, out: accounts.SignIn) -> SignedIn:
    """Keep the session in its cookie, and its CSRF token in the one the web pages' forms
    read (a sign-in step taken by a page's script leaves the pages working)."""
    keep_session(response, ctx.rules, out)
    return SignedIn(session_id=out.session_id, email=out.email, csrf=out.csrf, next=out.next)


@router.post("/auth/login")
def login(body: LoginIn, response: Response, ctx: Ctx, client: Client, device: Device) -> SignedIn:
    """Check e-mail and password; the session then needs its second factor."""
    out = signin.login(
        ctx.stores, rules=ctx.rules, email=body.email, password=body.password, client=client,
        device=device,
    )  # fmt: skip
    return _signed_in(response, ctx, out)


@router.post("/auth/second-factor")
def second_factor(
    body: CodeIn, response: Response, ctx: Ctx, client: Client, actor: Signing
) -> SignedIn:
    """A TOTP or recovery code for the session that passed its password."""
    out = signin.second_factor(
        ctx.stores,
        ctx.keyring,
        rules=ctx.rules,
        actor=actor,
        code=body.code,
        client=client,
    )
    return _signed_in(response, ctx, out)


@router.post("/auth/logout", status_code=204)
def logout(response: Response, ctx: Ctx, actor: Signing) -> None:
    signin.logout(ctx.stores, actor=actor)
    forget_session(response)


@router.post("/account/activate")
def activate(
    body: LinkIn, response: Response, ctx: Ctx, client: Client, device: Device
) -> SignedIn:
    """Follow an invitation: set the password (then set up a second factor)."""
    out = accounts.activate(
        ctx.stores, rules=ctx.rules, secret=body.secret, password=body.password, client=client,
        device=device,
    )  # fmt: skip
    return _signed_in(response, ctx, out)


@router.post("/account/totp/begin")
def totp_begin(ctx: Ctx, actor: Signing) -> accounts.TotpEnrolment:
    """A new TOTP secret to scan (URI and QR code as SVG)."""
    return accounts.begin_totp(ctx.stores, ctx.keyring, actor=actor)


class EnrolledOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once: keep them somewhere safe.")
    session: SignedIn


@router.post("/account/totp/finish")
def totp_finish(body: CodeIn, response: Response, ctx: Ctx, actor: Signing) -> EnrolledOut:
    """Confirm the TOTP secret with a code: the session is fully signed in."""
    out = accounts.finish_totp(ctx.stores, ctx.keyring, actor=actor, code=body.code)
    return EnrolledOut(
        recovery_codes=out.recovery_codes, session=_signed_in(response, ctx, out.session)
    )


@router.post("/account/reset-request", status_code=202, responses=error_responses(*MAILING))
def reset_request(body: EmailIn, ctx: Ctx, client: Client) -> dict[str, str]:
    """Mail a reset link if the address has an account (the answer never says)."""
    signin.request_reset(
        ctx.stores, rules=ctx.rules, mailer=ctx.mailer, email=body.email, client=client
    )
    return {"status": "if the address has an account, a link is on its way"}


@router.post("/account/reset", status_code=204)
def reset(body: LinkIn, ctx: Ctx, client: Client) -> None:
    """Set a new password through a reset link; every session of the account ends."""
    signin.reset_password(
        ctx.stores, rules=ctx.rules, secret=body.secret, password=body.password, client=client
    )


@router.get("/account/sessions")
def sessions(ctx: Ctx, actor: Actor) -> list[own_account.SessionOut]:
    return own_account.list_sessions(ctx.stores, actor=actor)


@router.delete("/account/sessions/{session_id}", status_code=204)
def end_session(session_id: Annotated[Text, Path(max_length=64)], ctx: Ctx, actor: Actor) -> None:
    own_account.revoke_session(ctx.stores, actor=actor, session_id=session_id)


@router.get("/account/tokens")
def tokens(ctx: Ctx, actor: Actor) -> list[own_account.TokenOut]:
    return own_account.list_tokens(ctx.stores, actor=actor)


@router.post("/account/tokens", status_code=201)
def new_token(body: TokenIn, ctx: Ctx, actor: Actor) -> own_account.NewToken:
    """A personal API token; its secret is shown here once."""
    return own_account.create_token(
        ctx.stores, actor=actor, rules=ctx.rules, name=body.name, scopes=body.scopes, days=body.days
    )


@router.delete("/account/tokens/{token_id}")
def revoke_token(
    token_id: Annotated[Text, Path(max_length=64)], ctx: Ctx, actor: Actor
) -> own_account.TokenOut:
    return own_account.revoke_token(ctx.stores, actor=actor, token_id=token_id)


# -- passkeys (WebAuthn) -----------------------------------------------------------------
class CredentialIn(BaseModel):
    """The browser's PublicKeyCredential as JSON (navigator.credentials.create/get)."""

    credential: dict[str, Any]
    name: Text = Field(default="passkey", max_length=100)


def _options(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@router.post("/account/passkeys/begin")
def passkey_begin(ctx: Ctx, actor: Signing) -> dict[str, Any]:
    """Creation options for navigator.credentials.create()."""
    return _options(passkeys.begin_registration(ctx.stores, actor=actor, rules=ctx.rules))


class PasskeyAdded(BaseModel):
    added: bool = True
    enrolled: EnrolledOut | None = Field(
        default=None, description="At sign-up: recovery codes (shown once) and the session."
    )


@router.post("/account/passkeys/finish")
def passkey_finish(
    body: CredentialIn, response: Response, ctx: Ctx, actor: Signing
) -> PasskeyAdded:
    out = passkeys.finish_registration(
        ctx.stores,
        ctx.keyring,
        actor=actor,
        rules=ctx.rules,
        credential=body.credential,
        name=body.name,
    )
    if out is None:
        return PasskeyAdded()
    return PasskeyAdded(
        enrolled=EnrolledOut(
            recovery_codes=out.recovery_codes, session=_signed_in(response, ctx, out.session)
        )
    )


@router.post("/auth/passkey/begin")
def passkey_sign_in_begin(ctx: Ctx, actor: Signing) -> dict[str, Any]:
    """Request options for navigator.credentials.get() (after the password)."""
    return _options(passkeys.begin_sign_in(ctx.stores, actor=actor, rules=ctx.rules))


@router.post("/auth/passkey/finish")
def passkey_sign_in_finish(
    body: CredentialIn, response: Response, ctx: Ctx, client: Client, actor: Signing
) -> SignedIn:
    out = passkeys.finish_sign_in(
        ctx.stores, actor=actor, rules=ctx.rules, credential=body.credential, client=client
    )
    return _signed_in(response, ctx, out)
