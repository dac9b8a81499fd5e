"""Canary customers' released columns drawn from the real customers, so that no column (and
no diff of two recipients' files) singles them out; their contact points stay their own."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from dealvault.deidentify.tokens import keyed_blocks

#: Columns a canary keeps as its own: the contact points and identity fields that trace a
#: leaked copy to its recipient (e-mail, phone, ID number, name + birth date; the address and
#: card go with them so that masked values stay consistent with the ID number's region).
OWN: Final = frozenset(
    {
        "record_id", "subject_id", "customer_key", "name", "birth_date", "id_number", "phone",
        "email", "address", "bank_card",
    }
)  # fmt: skip
#: Columns drawn together from one customer, so that values that depend on each other stay
#: consistent (a registration before the first order, a total that fits the order count).
#: Every other column is drawn on its own, from another customer.
GROUPS: Final = (
    ("gender",),
    ("age", "age_band"),
    ("region_code", "province", "city", "district"),
    (
        "registered_at", "purchase_frequency", "order_count", "total_amount", "first_order",
        "last_order",
    ),
)  # fmt: skip
#: The group that gives a canary's e-mail address the domain of a real customer's (masked
#: output shows the domain: the seller's canary domain would single canaries out).
DOMAIN: Final = "@email"
_MAGIC: Final = b"DVC1"
_MAX_GROUPS: Final = 1 << 12


def groups_of(
    columns: Sequence[str], *, keep: Collection[str], domain: bool = False
) -> list[tuple[str, ...]]:
    """The groups of ``columns`` a canary takes from real customers (the columns in ``keep``
    and :data:`OWN` stay the canary's own): the fixed :data:`GROUPS` first, then one group
    per other column, in the order of ``columns``; with ``domain``, last, the e-mail domain
    (:data:`DOMAIN`; the local part stays the canary's)."""
    own = OWN | set(keep)
    present = [c for c in columns if c not in own]
    out: list[tuple[str, ...]] = []
    for group in GROUPS:
        got = tuple(c for c in group if c in present)
        if got:
            out.append(got)
    grouped = {c for g in out for c in g}
    out += [(c,) for c in present if c not in grouped]
    if domain and "email" in columns:
        out.append((DOMAIN,))
    return out


def donor_picks(
    key: bytes, *, dataset_id: int, slots: int, groups: int, pool: int
) -> npt.NDArray[np.int64]:
    """For each canary slot (row ``s`` of the recipient's canaries) and group, the index of the
    real customer (in a pool of ``pool``) whose values it takes: a keyed pseudo-random choice,
    the same for every recipient's canary of that slot, each group from its own draw."""
    if groups > _MAX_GROUPS:
        groups = _MAX_GROUPS  # pragma: no cover - a table of 4096 columns
    if slots == 0 or groups == 0 or pool == 0:
        return np.zeros((slots, groups), dtype=np.int64)
    cells = (np.arange(slots, dtype=np.int64)[:, None] * _MAX_GROUPS + np.arange(groups)).ravel()
    raw = keyed_blocks(key, dataset_id=dataset_id, record_ids=cells, magic=_MAGIC)
    words = np.frombuffer(raw, dtype=">u8").reshape(-1, 2)[:, 0]
    return (words % np.uint64(pool)).astype(np.int64).reshape(slots, groups)


def profiled(
    canaries: pl.DataFrame,
    *,
    donors: pl.DataFrame,
    picks: npt.NDArray[np.int64],
    groups: Sequence[tuple[str, ...]],
) -> pl.DataFrame:
    """``canaries`` with each group's columns replaced by those of donor row ``picks[s, g]``
    (``donors`` has the columns and types of ``canaries``; rows are slots in order)."""
    if canaries.is_empty() or donors.is_empty() or not groups:
        return canaries
    taken: list[pl.Series | pl.Expr] = []
    for g, group in enumerate(groups):
        at = picks[: canaries.height, g]
        if group == (DOMAIN,):  # the canary's local part at a real customer's domain
            theirs = donors.get_column("email").cast(pl.String).gather(at)
            domain = theirs.str.extract(r"@([^@]+)$", 1)
            local = canaries.get_column("email").cast(pl.String).str.extract(r"^(.*)@", 1)
            taken.append((local + "@" + domain).alias("email"))
            continue
        rows = donors.select(group).gather(at)
        for name in group:
            taken.append(rows.get_column(name).cast(canaries.schema[name]).alias(name))
    return canaries.with_columns(taken)
