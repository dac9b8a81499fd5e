"""Canary customers: invented per-recipient records that make a leaked copy name its recipient."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import Any, Final

import numpy as np
import polars as pl
import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access.models import Deal, Organization
from dealvault.config import Settings
from dealvault.errors import Conflict, IntegrityError, Invalid
from dealvault.synth.customers import customer_block, years_before
from dealvault.synth.idnumbers import is_mainland_mobile
from dealvault.transfer.canary_seal import (
    CanaryIdentity,
    CanaryKeys,
    identity,
    seal_legacy,
)
from dealvault.transfer.models import Canary
from dealvault.vault.models import Dataset

#: Subject ids of canaries start with this; their record ids are ``-canary.id``.
SUBJECT_PREFIX: Final = "canary-"
#: Columns of a canary frame, named as ``vault.read.disclose_table`` names customer fields.
FRAME_COLUMNS: Final = (
    "record_id",
    "subject_id",
    "customer_key",
    "name",
    "gender",
    "birth_date",
    "id_number",
    "phone",
    "email",
    "address",
    "registered_at",
    "favourite_product",
    "purchase_frequency",
)
#: Fields rebuilt from the seed in a canary's e-mail address (not stored in ``canaries``).
DERIVED_FIELDS: Final = (
    "customer_key",
    "gender",
    "birth_date",
    "id_number",
    "address",
    "registered_at",
    "favourite_product",
    "purchase_frequency",
)
#: Reference date of the generator: fixed, so a canary rebuilds identically years later.
AS_OF: Final = date(2025, 6, 30)
#: Match rules, strongest first; ``masked`` needs two masked fields of one canary in one row.
RULES: Final = ("email", "phone", "id_number", "name_birth", "token", "masked")
STRONG_RULES: Final = frozenset({"email", "phone", "id_number", "name_birth", "token"})

_TAG_LOW, _TAG_HIGH = 10**8, 10**9  # the 9-digit seed written into the e-mail address
_TAG_RE: Final = re.compile(r"(\d{9})@[^@]+$")
_DOMAIN_RE: Final = re.compile(r"^(?=.{4,200}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+$")
_GENDERS: Final = {"男": "M", "女": "F"}
_KEY_LOW, _KEY_HIGH = 90_000_000, 100_000_000  # C9xxxxxxx: above any synthetic export's keys


@dataclass(frozen=True, slots=True)
class CanaryRecord:
    """One canary as stored plus its rebuilt fields (None when it no longer rebuilds)."""

    id: int
    deal_id: int
    dataset_id: int
    recipient_id: int
    name: str
    phone: str
    email: str
    customer_key: str | None = None
    gender: str | None = None
    birth_date: str | None = None
    id_number: str | None = None
    address: str | None = None
    registered_at: str | None = None
    favourite_product: str | None = None
    purchase_frequency: str | None = None
    rebuilt: bool = False

    @property
    def subject_id(self) -> str:
        return f"{SUBJECT_PREFIX}{self.id:06d}"

    @property
    def record_id(self) -> int:
        return -self.id


def _invent(tag: int) -> dict[str, str]:
    """An adult customer with an address, drawn from the synthetic generator seeded by ``tag``."""
    return dict(_invented(tag))


@lru_cache(maxsize=4096)
def _invented(tag: int) -> tuple[tuple[str, str], ...]:
    """:func:`_invent`, remembered per process: the generator is deterministic in ``tag`` and
    costs milliseconds, and every record-level read rebuilds the recipient's canaries."""
    return tuple(_draw(tag).items())


def _draw(tag: int) -> dict[str, str]:
    for attempt in range(256):
        rng = np.random.default_rng([tag, attempt, 0xCA7A])
        block = customer_block(rng, 0, 1, AS_OF)
        row = block.frame.row(0, named=True)
        local = str(block.email[0]).partition("@")[0]
        stem = re.sub(r"[^a-z.]", "", local).strip(".")
        adult = row["出生日期"] <= years_before(AS_OF, 18)
        if row["地址"] and adult and len(stem.replace(".", "")) >= 3:
            return {
                "customer_key": f"C{int(rng.integers(_KEY_LOW, _KEY_HIGH))}",
                "name": str(row["姓名"]),
                "gender": _GENDERS[str(row["性别"])],
                "birth_date": row["出生日期"].isoformat(),
                "id_number": str(row["身份证号"]),
                "address": str(row["地址"]),
                "registered_at": row["注册日期"].isoformat(),
                "favourite_product": str(row["偏好产品"]),
                "purchase_frequency": str(row["购买频率"]),
                "stem": stem,
            }
    raise IntegrityError("the synthetic generator gave no usable canary")  # pragma: no cover


def _fingerprint(values: dict[str, str]) -> str:
    """SHA-256 of the canary's fields in RFC 8785 form: a rebuilt canary must match it."""
    return hashlib.sha256(bytes(rfc8785.dumps(values))).hexdigest()


def _fields(invented: dict[str, str], *, phone: str, email: str) -> dict[str, str]:
    out = {k: v for k, v in invented.items() if k != "stem"}
    return {**out, "phone": phone, "email": email}


def rebuild(row: Canary, ident: CanaryIdentity) -> CanaryRecord:
    """The full canary of a stored row and its (opened) identity; ``rebuilt`` is False when its
    seed no longer gives the stored fingerprint (the generator changed): only name, phone and
    e-mail are then known."""
    base = CanaryRecord(
        id=row.id,
        deal_id=row.deal_id,
        dataset_id=row.dataset_id,
        recipient_id=row.recipient_id,
        name=ident.name,
        phone=ident.phone,
        email=ident.email,
    )
    m = _TAG_RE.search(ident.email)
    if m is None:
        return base
    invented = _invent(int(m.group(1)))
    fields = _fields(invented, phone=ident.phone, email=ident.email)
    if _fingerprint(fields) != ident.fingerprint or invented["name"] != ident.name:
        return base
    derived: dict[str, Any] = {k: fields[k] for k in DERIVED_FIELDS}
    return replace(base, **derived, rebuilt=True)


def _checked_phones(configured: Sequence[str]) -> list[str]:
    phones = []
    for i, p in enumerate(configured, start=1):
        digits = re.sub(r"[\s\-]", "", p)
        if digits.startswith("+86"):
            digits = digits[3:]
        if not (len(digits) == 11 and digits.isdigit() and is_mainland_mobile(digits)):
            raise Invalid(f"canary phone #{i} in the settings is not an 11-digit mainland mobile")
        phones.append(digits)
    if not phones:
        raise Invalid("no canary phones configured (canary_phones): list numbers the seller owns")
    return phones


def _checked_domain(domain: str) -> str:
    d = domain.strip().lower()
    if not _DOMAIN_RE.match(d):
        raise Invalid("canary_email_domain in the settings is not a domain name")
    return d


def _pick_phone(
    session: Session,
    *,
    keys: CanaryKeys,
    phones: Sequence[str],
    deal: Deal,
    dataset_id: int,
    recipient: int,
    slot: int,
) -> str:
    """A configured number no canary has yet; when all are taken, the number of this slot with
    a recipient-specific last four digits (same 7-digit block, still an 11-digit mobile)."""
    used = set(session.scalars(select(Canary.phone_mac)))
    start = (recipient + slot) % len(phones)
    for i in range(len(phones)):
        candidate = "+86" + phones[(start + i) % len(phones)]
        if keys.phone_mac(candidate) not in used:
            return candidate
    base = phones[start]
    for attempt in range(20_000):
        seed = f"dealvault/canary-phone/v1/{deal.id}/{dataset_id}/{recipient}/{slot}/{attempt}"
        suffix = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % 10_000
        candidate = f"+86{base[:7]}{suffix:04d}"
        if keys.phone_mac(candidate) not in used:
            return candidate
    raise Conflict("no free canary phone number is left: configure more canary_phones")


def _create(
    session: Session,
    *,
    keys: CanaryKeys,
    deal: Deal,
    dataset_id: int,
    recipient: Organization,
    settings: Settings,
    slot: int,
) -> tuple[Canary, CanaryIdentity]:
    domain = _checked_domain(settings.canary_email_domain)
    phones = _checked_phones(settings.canary_phones)
    phone = _pick_phone(
        session,
        keys=keys,
        phones=phones,
        deal=deal,
        dataset_id=dataset_id,
        recipient=recipient.id,
        slot=slot,
    )
    for _ in range(100):
        tag = _TAG_LOW + secrets.randbelow(_TAG_HIGH - _TAG_LOW)
        invented = _invent(tag)
        email = f"{invented['stem']}{tag}@{domain}"
        taken = select(Canary.id).where(Canary.email_mac == keys.email_mac(email))
        if session.scalar(taken) is None:
            break
    else:  # pragma: no cover - 100 collisions in 9e8 seeds
        raise Conflict("could not draw an unused canary e-mail address")
    ident = CanaryIdentity(
        name=invented["name"],
        phone=phone,
        email=email,
        fingerprint=_fingerprint(_fields(invented, phone=phone, email=email)),
    )
    row = Canary(deal_id=deal.id, dataset_id=dataset_id, recipient_id=recipient.id)
    keys.seal(row, ident)
    session.add(row)
    session.flush()
    return row, ident


def canary_frame(records: Sequence[CanaryRecord]) -> pl.DataFrame:
    """Canaries as customer rows: ``record_id`` (negative), ``subject_id``, then text fields."""
    data: dict[str, pl.Series] = {
        "record_id": pl.Series("record_id", [r.record_id for r in records], dtype=pl.Int64),
        "subject_id": pl.Series("subject_id", [r.subject_id for r in records], dtype=pl.String),
    }
    for col in FRAME_COLUMNS[2:]:
        data[col] = pl.Series(col, [getattr(r, col) for r in records], dtype=pl.String)
    return pl.DataFrame(data)


def canaries_for(
    session: Session,
    *,
    keys: CanaryKeys,
    deal: Deal,
    dataset_id: int,
    recipient: Organization,
    settings: Settings,
    count: int = 3,
) -> pl.DataFrame:
    """This recipient's canaries for this dataset (made on first use, the same ones after), as
    a frame with the customer columns of ``vault.read.disclose_table``. Identities are stored
    sealed under ``keys`` (older clear rows are sealed here). Flushes, never commits.
    """
    if not 0 <= count <= 100:
        raise Invalid("canary count must be between 0 and 100")
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or dataset.deal_id != deal.id:
        raise Invalid(f"dataset #{dataset_id} is not a dataset of deal {deal.code!r}")
    found = session.scalars(
        select(Canary)
        .where(
            Canary.deal_id == deal.id,
            Canary.dataset_id == dataset_id,
            Canary.recipient_id == recipient.id,
        )
        .order_by(Canary.id)
    ).all()
    if any(row.sealed is None for row in found):  # made before canaries were sealed
        seal_legacy(session, keys)
    rows = [(row, keys.open(row)) for row in found]
    while len(rows) < count:
        rows.append(
            _create(
                session,
                keys=keys,
                deal=deal,
                dataset_id=dataset_id,
                recipient=recipient,
                settings=settings,
                slot=len(rows),
            )
        )
    records = [rebuild(r, ident) for r, ident in rows[:count]]
    stale = [r.id for r in records if not r.rebuilt]
    if stale:
        raise IntegrityError(
            f"canary #{stale[0]} no longer rebuilds from its seed (the synthetic generator"
            " changed); it can still be traced but not planted again"
        )
    return canary_frame(records)


def add_canaries(
    frame: pl.DataFrame, *, canaries: pl.DataFrame, seed: int | None = None
) -> pl.DataFrame:
    """``frame`` with the canary rows at random positions; columns follow ``frame`` (a column
    the canaries lack is null for them, a canary column ``frame`` lacks is left out)."""
    m = canaries.height
    if m == 0:
        return frame
    order = canary_order(frame.height, m, seed=seed)
    both = pl.concat([frame, aligned(canaries, like=frame)], how="vertical")
    return both.select(pl.all().gather(order))


def canary_order(n: int, m: int, *, seed: int | None) -> np.ndarray:
    """Where :func:`add_canaries` puts each row: position ``i`` of the result holds row
    ``order[i]`` of the ``n`` customers followed by the ``m`` canaries. The customers keep
    their order, so the customers of any slice of the result are a contiguous run."""
    rng = np.random.default_rng(seed)
    at = np.zeros(n + m, dtype=np.bool_)
    at[rng.choice(n + m, size=m, replace=False)] = True
    order = np.empty(n + m, dtype=np.int64)
    order[at] = n + rng.permutation(m)
    order[~at] = np.arange(n)
    return order


def aligned(canaries: pl.DataFrame, *, like: pl.DataFrame) -> pl.DataFrame:
    """The canary rows with the columns and types of ``like`` (missing columns null)."""
    m = canaries.height
    return pl.DataFrame(
        [
            canaries.get_column(name).cast(dtype, strict=False).alias(name)
            if name in canaries.columns
            else pl.Series(name, [None] * m, dtype=dtype)
            for name, dtype in like.schema.items()
        ]
    )


def load_canaries(
    session: Session, *, keys: CanaryKeys | None, deal_ids: Sequence[int]
) -> list[CanaryRecord]:
    """Every canary planted in these deals, opened with ``keys`` and rebuilt (rows of a store
    made before canaries were sealed are read as they are; nothing is written)."""
    if not deal_ids:
        return []
    rows = session.scalars(
        select(Canary).where(Canary.deal_id.in_(list(deal_ids))).order_by(Canary.id)
    )
    return [rebuild(row, identity(row, keys)) for row in rows]
