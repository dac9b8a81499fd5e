"""Who is acting: the typed principal every use case takes, built only at an edge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Authn(StrEnum):
    """How the acting person's identity was established (recorded in every audit event)."""

    #: the local CLI with the master key, naming a person of the organisation that runs the
    #: store (operator mode)
    LOCAL = "local"
    #: the local CLI naming a person of another organisation: nobody proved who that is
    ASSERTED = "asserted"
    #: a server session signed in with a password and a TOTP code (or a recovery code)
    PASSWORD_TOTP = "password+totp"  # noqa: S105 - method names, not secrets
    #: a server session signed in with a password and a passkey
    PASSWORD_WEBAUTHN = "password+webauthn"  # noqa: S105
    #: a server session with the password checked but no second factor yet: metadata only
    PASSWORD = "password"  # noqa: S105
    #: a one-time link from a mail (invitation or password reset), for that link's use only
    LINK = "link"
    #: a scoped personal API token
    TOKEN = "token"  # noqa: S105 - a method name, not a secret
    #: a request signed with the shared secret of an inbound webhook (the seller's SMS and
    #: e-mail gateway reporting canary hits), acting as the account the settings name
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class Principal:
    """The acting person (by e-mail), how they were authenticated, and the session or token
    and client address behind the request where there is one, and the device (a hash of the
    browser's device cookie or the client's device header, or the API token standing in for
    it: ``access.device``). Flows look the person up in their own transaction; nothing but an
    edge builds a principal."""

    email: str
    authn: Authn
    session_id: str | None = None
    client: str | None = None
    #: what an API token may do (None: no token, everything the person's roles allow)
    scopes: frozenset[str] | None = None
    device: str | None = None

    @property
    def second_factor(self) -> bool:
        """Whether this identity was proven beyond a password (everything above metadata
        needs it); operator mode at the local CLI counts, as it holds the master key."""
        return self.authn not in (Authn.PASSWORD, Authn.LINK)

    def __post_init__(self) -> None:
        if not self.email or "@" not in self.email:
            raise ValueError("a principal needs the e-mail of a registered person")


def local(email: str) -> Principal:
    """Operator mode at the local CLI (the edge has checked the person's organisation)."""
    return Principal(email=email.strip().lower(), authn=Authn.LOCAL)
