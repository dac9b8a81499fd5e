"""A canary customer found by a contact point used outside (by its keyed hash only), and the
recipient and disclosures it was released to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import polars as pl
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Organization
from dealvault.audit.models import AuditEvent
from dealvault.db.raw import raw_rows
from dealvault.errors import Invalid
from dealvault.monitor.events import decode
from dealvault.synth.idnumbers import is_mainland_mobile
from dealvault.transfer.canaries import SUBJECT_PREFIX
from dealvault.transfer.canary_seal import CanaryKeys
from dealvault.transfer.models import Canary
from dealvault.vault.models import Dataset

CHANNELS: Final = ("phone", "email")
_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")


@dataclass(frozen=True)
class CanaryFound:
    """The canary and where it went: no contact point, only ids and names."""

    canary_id: int
    subject_id: str
    deal: str
    dataset: str
    recipient: str
    #: disclosures and packages that carried the recipient's canaries of this dataset
    releases: int
    first_release_seq: int | None
    last_release_seq: int | None


def normalised(channel: str, value: str) -> str:
    """The contact point as canaries store it (phone: +86 and 11 digits; e-mail: lower case);
    Invalid without ever repeating the value."""
    text = value.strip()
    if channel == "phone":
        digits = re.sub(r"[\s\-().]", "", text)
        if digits.startswith("+"):
            if not digits.startswith("+86"):
                raise Invalid("the phone given is not a mainland number (+86)")
            digits = digits[3:]
        elif len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        if not (len(digits) == 11 and digits.isdigit() and is_mainland_mobile(digits)):
            raise Invalid("the phone given is not an 11-digit mainland mobile number")
        return "+86" + digits
    if channel == "email":
        if not _EMAIL.match(text):
            raise Invalid("the e-mail address given is not an address")
        return text.lower()
    raise Invalid(f"unknown channel {channel!r}; choose one of: {', '.join(CHANNELS)}")


def contact_mac(keys: CanaryKeys, channel: str, value: str) -> str:
    """The keyed hash canaries are indexed by (what may be recorded instead of the value)."""
    return keys.phone_mac(value) if channel == "phone" else keys.email_mac(value)


def find(session: Session, *, channel: str, value: str, mac: str | None) -> Canary | None:
    """The canary with this contact point: by its keyed hash, or in clear for a row of a store
    made before canaries were sealed."""
    col, clear = (
        (Canary.phone_mac, Canary.phone) if channel == "phone" else (Canary.email_mac, Canary.email)
    )
    match = [clear == value]
    if mac is not None:
        match.append(col == mac)
    return session.scalar(select(Canary).where(or_(*match)).order_by(Canary.id).limit(1))


def trace(session: Session, row: Canary) -> CanaryFound:
    """The deal, dataset and recipient of a canary, and the audited releases that carried the
    recipient's canaries of that dataset (disclosures and transfer packages)."""
    deal = session.get(Deal, row.deal_id)
    dataset = session.get(Dataset, row.dataset_id)
    org = session.get(Organization, row.recipient_id)
    code = deal.code if deal else f"#{row.deal_id}"
    ds = dataset.name if dataset else f"#{row.dataset_id}"
    who = org.name if org else f"organisation #{row.recipient_id}"
    rows = raw_rows(
        session.connection(),
        select(AuditEvent.seq, AuditEvent.body).where(
            AuditEvent.deal == code,
            AuditEvent.action.in_(("disclose", "package.build")),
            AuditEvent.decision == "allow",
        ),
    )
    events = decode([int(r[0]) for r in rows], [bytes(r[1]) for r in rows]).filter(
        pl.col("recipient") == who, pl.col("dataset") == ds, pl.col("canaries") > 0
    )
    seqs = events.get_column("seq")
    return CanaryFound(
        canary_id=row.id,
        subject_id=f"{SUBJECT_PREFIX}{row.id:06d}",
        deal=code,
        dataset=ds,
        recipient=who,
        releases=events.height,
        first_release_seq=None if seqs.is_empty() else int(seqs.min()),  # type: ignore[arg-type]
        last_release_seq=None if seqs.is_empty() else int(seqs.max()),  # type: ignore[arg-type]
    )
