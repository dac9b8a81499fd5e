"""Pages of a record-level view and the recipient's canaries in it: the keyed row order, the
page's customers and their canaries' donors decrypted by id, and the dataset facts a release
needs (its tables, its stored column types)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from sqlalchemy import func, select

from dealvault.access.models import Organization
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.deidentify.derive import add_derived
from dealvault.deidentify.levels import Level, column_types, is_direct
from dealvault.deidentify.unlink import UnlinkKeys, perturbed, row_order, seeded_keys, unlink_keys
from dealvault.errors import Invalid
from dealvault.ingest.fields import Category, TableRole
from dealvault.transfer.canaries import aligned
from dealvault.transfer.canary_profile import donor_picks, groups_of, profiled
from dealvault.vault.models import Dataset, DatasetColumn, DatasetTable

if TYPE_CHECKING:
    from dealvault.flows.release import DisclosureRequest, Reader, RecordIds


def with_order_summaries(
    uow: UnitOfWork, req: DisclosureRequest, *, ds: Dataset, read: Reader, customers: pl.DataFrame
) -> pl.DataFrame:
    """Some customers with the order summaries a pseudonymized view carries, from the orders
    of these customers only."""
    transaction = not req.categories or Category.TRANSACTION.value in req.categories
    orders = None
    if transaction and TableRole.ORDERS.value in table_roles(uow, ds):
        ids = customers.filter(pl.col("record_id") >= 0).get_column("record_id")
        wanted = ids.to_list()
        if not wanted:  # no real customer here: one customer's orders give the columns
            wanted = read(TableRole.CUSTOMERS, span=(0, 1)).get_column("record_id").to_list()
        orders = read(TableRole.ORDERS, records=wanted)
    return add_derived(customers, orders=orders, on=date.today())


def recipient_keys(
    uow: UnitOfWork,
    keyring: KeyRing,
    req: DisclosureRequest,
    *,
    ds: Dataset,
    recipient: Organization,
) -> UnlinkKeys:
    """The recipient's row-order, noise and canary-profile keys: from the dataset's index key,
    or from the request's seed (tests)."""
    if req.seed is not None:
        return seeded_keys(req.seed, recipient_id=recipient.id)
    index_key = keyring.dataset_key(uow.keys, dataset_id=ds.id, purpose=INDEX, version=1)
    return unlink_keys(index_key, recipient_id=recipient.id)


def canary_groups(
    frame: pl.DataFrame, *, level: Level, types: dict[str, str | None] | None = None
) -> list[tuple[str, ...]]:
    """The column groups canaries draw: at ``masked`` the gender stays the canary's own (its
    masked ID number shows it) and the e-mail takes a real customer's domain (masked e-mail
    shows the domain); direct identifiers always stay the canary's own."""
    kept = {c for c, t in (types or {}).items() if is_direct(c, t)}
    if level == Level.MASKED:
        kept.add("gender")
    return groups_of(frame.columns, keep=kept, domain=level == Level.MASKED)


def disguised(
    frame: pl.DataFrame,
    *,
    n: int,
    pool: np.ndarray | None,
    keys: UnlinkKeys,
    ds: Dataset,
    level: Level,
    types: dict[str, str | None],
) -> pl.DataFrame:
    """``frame`` (``n`` customers, then the canaries) with the canaries' drawn columns taken
    from the customers of ``pool`` (row indices; None: all ``n``)."""
    m = frame.height - n
    if m <= 0 or n == 0:
        return frame
    chosen = np.arange(n, dtype=np.int64) if pool is None else pool
    if chosen.size == 0:
        return frame
    groups = canary_groups(frame, level=level, types=types)
    picks = donor_picks(
        keys.profile, dataset_id=ds.id, slots=m, groups=len(groups), pool=chosen.size
    )
    donors = frame.slice(0, n).select(pl.all().gather(chosen))
    canaries = profiled(frame.slice(n, m), donors=donors, picks=picks, groups=groups)
    return pl.concat([frame.slice(0, n), canaries], how="vertical")


def full_page(
    req: DisclosureRequest, *, read: Reader, record_ids: RecordIds
) -> tuple[pl.DataFrame, int] | None:
    """A page of the full view (record order, no canaries): one run of the customers."""
    assert req.window is not None
    offset, limit = req.window
    if offset < 0 or limit < 1:
        raise Invalid("a page needs an offset of 0 or more and a limit of 1 or more")
    n = len(record_ids())
    if n == 0:
        return None
    run = max(0, min(limit, n - offset))
    got = read(TableRole.CUSTOMERS, span=(min(offset, n), run)) if run else None
    if got is None:
        got = read(TableRole.CUSTOMERS, span=(0, 1)).head(0)
    elif got.height != run:
        return None
    return got, n


def view_page(
    uow: UnitOfWork,
    req: DisclosureRequest,
    *,
    ds: Dataset,
    read: Reader,
    record_ids: RecordIds,
    canaries: pl.DataFrame | None,
    keys: UnlinkKeys,
) -> tuple[pl.DataFrame, int] | None:
    """The rows of ``req.window`` of the whole view with its canaries, decrypting only the
    customers on it (and the donors of its canaries), and the whole view's length; None when
    the view holds no customer or the customers changed while it was read (the caller then
    reads the whole table)."""
    assert req.window is not None
    offset, limit = req.window
    if offset < 0 or limit < 1:
        raise Invalid("a page needs an offset of 0 or more and a limit of 1 or more")
    ids = np.asarray(record_ids(), dtype=np.int64)
    n = ids.size
    if n == 0:
        return None
    m = canaries.height if canaries is not None else 0
    every = (
        ids
        if canaries is None
        else np.concatenate([ids, canaries.get_column("record_id").to_numpy().astype(np.int64)])
    )
    order = row_order(keys.order, dataset_id=ds.id, record_ids=every)
    wanted = order[offset : offset + limit]
    real = np.sort(wanted[wanted < n])
    got = customers_by_id(read, ids[real])
    if got is None:
        return None
    local = np.where(wanted < n, np.searchsorted(real, wanted), real.size + wanted - n)
    if m and canaries is not None:
        got = pl.concat([got, aligned(canaries, like=got)], how="vertical")
    frame = got.select(pl.all().gather(local))
    pseudonymized = req.level == Level.PSEUDONYMIZED
    if pseudonymized:
        frame = with_order_summaries(uow, req, ds=ds, read=read, customers=frame)
    slots = wanted[wanted >= n] - n
    if slots.size:
        frame = page_canaries(
            uow, req, frame, ds=ds, read=read, ids=ids, slots=slots, keys=keys, m=m
        )
    if pseudonymized:
        frame = perturbed(frame, key=keys.noise, dataset_id=ds.id)
    return frame, n + m


def customers_by_id(read: Reader, ids: np.ndarray) -> pl.DataFrame | None:
    """These customers in record order (None when some are no longer active)."""
    if ids.size == 0:
        return read(TableRole.CUSTOMERS, span=(0, 1)).head(0)
    got = read(TableRole.CUSTOMERS, records=ids.tolist())
    return got if got.height == ids.size else None


def page_canaries(
    uow: UnitOfWork,
    req: DisclosureRequest,
    frame: pl.DataFrame,
    *,
    ds: Dataset,
    read: Reader,
    ids: np.ndarray,
    slots: np.ndarray,
    keys: UnlinkKeys,
    m: int,
) -> pl.DataFrame:
    """The page's canaries with the values the whole view gives them: their donors (among
    all the view's customers) are decrypted, summarised and derived as the view's rows are."""
    types = column_types(frame.columns, stored=stored_types(uow, ds))
    groups = canary_groups(frame, level=req.level, types=types)
    picks = donor_picks(keys.profile, dataset_id=ds.id, slots=m, groups=len(groups), pool=ids.size)
    needed = np.unique(picks[slots])
    donors = customers_by_id(read, ids[needed])
    if donors is None or donors.height == 0:
        return frame
    if req.level == Level.PSEUDONYMIZED:
        donors = with_order_summaries(uow, req, ds=ds, read=read, customers=donors)
    else:
        donors = add_derived(donors, on=date.today()) if "age" in frame.columns else donors
    donors = aligned(donors, like=frame)
    is_canary = frame.get_column("record_id").to_numpy() < 0
    at = np.flatnonzero(is_canary)
    local = np.searchsorted(needed, picks[slots])
    fixed = profiled(frame.select(pl.all().gather(at)), donors=donors, picks=local, groups=groups)
    rows = np.arange(frame.height)
    rows[at] = frame.height + np.arange(at.size)
    return pl.concat([frame, fixed], how="vertical").select(pl.all().gather(rows))


def table_roles(uow: UnitOfWork, ds: Dataset) -> set[str]:
    return set(
        uow.records.scalars(select(DatasetTable.role).where(DatasetTable.dataset_id == ds.id))
    )


def stored_types(uow: UnitOfWork, ds: Dataset) -> dict[str, str | None]:
    rows = uow.records.execute(
        select(
            DatasetColumn.field,
            DatasetColumn.source_name,
            func.coalesce(DatasetColumn.override, DatasetColumn.pii_type),
        )
        .join(DatasetTable, DatasetTable.id == DatasetColumn.table_id)
        .where(DatasetTable.dataset_id == ds.id)
    ).all()
    out: dict[str, str | None] = {}
    for fld, source, pii in rows:
        out[fld or source] = pii
    return out
