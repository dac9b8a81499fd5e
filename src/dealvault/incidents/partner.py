"""Partner notices: what happened in an incident, for the security contacts of the deal's
other parties, as a C2SP signed note (Ed25519, the audit log's key) a partner verifies
offline. Counts, windows and organisations only: never a personal value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from dealvault.audit.note import SignatureStatus, Signer, Verifier, open_note, sign
from dealvault.errors import IntegrityError, Invalid

HEADER: Final = "dealvault incident notice for partners v1"
CHECKS: Final = (
    "check every copy you received of this deal's customer data (files, exports, look-ups, "
    "transfer packages): where it is stored, who opened it, whether it left your systems",
    "check your people who took part in the deal: their accounts, devices and mail",
    "keep your logs of the window below; do not contact the customers concerned yourselves",
    "acknowledge this notice (dealvault incident notice ack, or the API) and tell the contact "
    "below what you find",
)


@dataclass(frozen=True)
class PartnerFacts:
    """What a partner notice says (no personal value: ids, counts, organisations)."""

    notice: int
    incident: int
    deal: str
    origin: str
    severity: str
    issued: datetime
    window_start: datetime
    window_end: datetime | None
    what: Sequence[str]
    customers: int
    categories: Sequence[tuple[str, int]]
    recipients: Sequence[tuple[str, int]]
    addressees: Sequence[str]
    contact: str


def _iso(at: datetime | None) -> str:
    return "open" if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def text_of(f: PartnerFacts) -> str:
    """The note's text: one ``key: value`` per line, ending in a newline."""
    lines = [
        HEADER,
        f"origin: {f.origin}",
        f"notice: {f.notice}",
        f"incident: {f.incident}",
        f"deal: {f.deal}",
        f"severity: {f.severity}",
        f"issued: {_iso(f.issued)}",
        f"window: {_iso(f.window_start)} to {_iso(f.window_end)}",
        *(f"what: {_one_line(w)}" for w in f.what),
        f"customers concerned: {f.customers}",
        *(f"category: {c} {n}" for c, n in f.categories),
        *(f"held by: {_one_line(r)} {n}" for r, n in f.recipients),
        *(f"to: {_one_line(a)}" for a in f.addressees),
        *(f"check: {c}" for c in CHECKS),
        f"contact: {_one_line(f.contact)}",
    ]
    return "\n".join(lines) + "\n"


def sign_notice(f: PartnerFacts, *, signer: Signer) -> str:
    return sign(text_of(f), [signer]).decode("utf-8")


@dataclass(frozen=True)
class Verified:
    signed_by: str
    key_id: str
    fields: dict[str, list[str]]


def verify_notice(note: str, *, keys: Sequence[str]) -> Verified:
    """Check a partner notice against the issuing store's verifier keys; IntegrityError when
    no signature verifies (the text or the signature was changed, or an unknown key)."""
    if not keys:
        raise Invalid("give the issuing store's verifier key (--key)")
    verifiers = [Verifier.from_key(k.strip()) for k in keys]
    try:
        text, checks = open_note(note, verifiers)
    except IntegrityError:
        raise IntegrityError(
            "the partner notice does not verify: its text or signature was changed after "
            "signing, or it was signed by another key"
        ) from None
    if any(c.status is SignatureStatus.BAD for c in checks):
        raise IntegrityError("a signature of the partner notice does not verify")
    lines = text.splitlines()
    if not lines or lines[0] != HEADER:
        raise Invalid("not a dealvault partner notice")
    fields: dict[str, list[str]] = {}
    for line in lines[1:]:
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    good = next(c for c in checks if c.status is SignatureStatus.VERIFIED)
    return Verified(signed_by=good.name, key_id=f"{good.key_id:08x}", fields=fields)
