"""How a released frame is made from the decrypted tables, once the disclosure is decided: the
level's transformation, the row cap, the recipient's canaries, one page at a time when asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from dealvault.access.models import Organization
from dealvault.access.principal import Principal
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.stores import UnitOfWork
from dealvault.deidentify.aggregates import aggregate
from dealvault.deidentify.derive import add_derived, with_customer_attributes
from dealvault.deidentify.generalise import DATE_UNITS, date_ranges, region_hierarchy
from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.kanon import QuasiIdentifier, anonymize
from dealvault.deidentify.levels import (
    Level,
    column_types,
    direct_columns,
    full_view,
    masked_linkage,
    masked_view,
    pseudonymized_view,
)
from dealvault.deidentify.measures import parse_measure
from dealvault.deidentify.tokens import make_tokens, token_key
from dealvault.deidentify.unlink import perturbed, row_order
from dealvault.errors import Invalid
from dealvault.flows import aggregate_cache
from dealvault.flows.release_pages import (
    disguised,
    full_page,
    recipient_keys,
    stored_types,
    table_roles,
    view_page,
)
from dealvault.ingest.fields import Category, TableRole
from dealvault.transfer.canaries import SUBJECT_PREFIX, aligned
from dealvault.vault.models import Dataset

NUMERIC_QIS = frozenset({"age", "order_count", "total_amount", "quantity", "amount"})
DATE_QIS = frozenset({"registered_at", "first_order", "last_order", "birth_date"})


@dataclass(frozen=True)
class DisclosureRequest:
    """What to disclose, to whom, and with which parameters (see ``dealvault disclose``)."""

    actor: Principal
    deal: str
    dataset: str
    level: Level
    purpose: str
    recipient: str | None = None
    table: TableRole = TableRole.CUSTOMERS
    # anonymized
    quasi_identifiers: Sequence[str] = ()
    hierarchies: dict[str, Path] = field(default_factory=dict)
    k: int = 10
    l_div: int | None = None
    l_kind: Literal["distinct", "entropy"] = "distinct"
    sensitive: str | None = None
    suppression: float = 0.0
    keep: Sequence[str] = ()  # COLUMN, COLUMN:range=WIDTH or COLUMN:year|quarter|month|week
    #: released columns declared non-identifying (column -> reason): left out of the risk
    non_identifying: dict[str, str] = field(default_factory=dict)
    # aggregate
    group_by: Sequence[str] = ()
    measures: Sequence[str] = ("count",)
    k_min: int = 10
    epsilon: float | None = None
    categories: Sequence[str] = ()  # () = every category
    #: what the copy is for when the use is restricted per customer: ``marketing`` keeps only
    #: the customers whose package carried a marketing consent (``marketing_consent`` = yes)
    use: str | None = None
    seed: int | None = None  # tests only: fixes the shuffle and the noise
    #: (offset, limit): release only this page of a masked, pseudonymized or full view (the
    #: row cap, the audit event's customers and the canaries count the page only)
    window: tuple[int, int] | None = None


#: Reads a table of the dataset after the decision: the whole table, with ``span`` (start,
#: count) one run of the active customers in record order, or with ``records`` only these
#: customers (or, of a child table, their rows).
Reader = Callable[..., pl.DataFrame]
#: The record ids of the active customers in record order (what a whole read returns).
RecordIds = Callable[[], Sequence[int]]


def build(
    uow: UnitOfWork,
    keyring: KeyRing,
    req: DisclosureRequest,
    *,
    ds: Dataset,
    recipient: Organization,
    read: Reader,
    record_ids: RecordIds,
    row_cap: int | None = None,
    canaries: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, Any], list[str]]:
    """The released frame, the report of how it was made, the subjects it reveals records of.

    ``row_cap`` (from the grant relied on) bounds record-level output: customers are sampled
    before anonymisation (cutting a k-anonymous release afterwards could break k), and the
    first rows are kept for the other record levels. A page (``req.window``) of a masked,
    pseudonymized or full view of the customers decrypts only the customers on that page (and,
    pseudonymized, their orders; and the few customers its canaries take values from); it
    holds exactly the rows the same slice of the whole view would.

    Masked and pseudonymized views of the customers come in the recipient's own row order
    (``deidentify.unlink``), pseudonymized ones with their totals and dates noised per
    recipient, and the canaries' columns other than their contact points drawn from real
    customers (``transfer.canary_profile``).
    """
    paged = (
        req.window is not None
        and req.table == TableRole.CUSTOMERS
        and req.level in (Level.MASKED, Level.PSEUDONYMIZED, Level.FULL)
    )
    planted = canaries if canaries is not None and req.level in CANARY_LEVELS else None
    keys = (
        recipient_keys(uow, keyring, req, ds=ds, recipient=recipient)
        if planted is not None or (req.level in SHUFFLED_LEVELS)
        else None
    )
    page = (
        view_page(uow, req, ds=ds, read=read, record_ids=record_ids, canaries=planted, keys=keys)
        if paged and keys is not None
        else None
    )
    if paged and req.level == Level.FULL:
        page = full_page(req, read=read, record_ids=record_ids)
    if page is not None:
        frame, available = page
        types = column_types(frame.columns, stored=stored_types(uow, ds))
        return _records(uow, keyring, req, ds, recipient, frame, available, row_cap, types)
    if req.level == Level.AGGREGATE:
        types = stored_types(uow, ds)
        key = (
            aggregate_cache.content_key(uow, ds=ds, types=types),
            req.table, tuple(req.group_by), tuple(req.measures), req.k_min, req.epsilon,
            req.seed, tuple(sorted(req.categories)),
        )  # fmt: skip
        table, report = aggregate_cache.remembered(
            key, lambda: _aggregate(req, ds=ds, roles=table_roles(uow, ds), read=read, uow=uow)
        )
        return table, report, []
    roles = table_roles(uow, ds)
    today = date.today()
    customers = read(TableRole.CUSTOMERS)
    n = customers.height
    if planted is not None and planted.height:
        customers = pl.concat([customers, aligned(planted, like=customers)], how="vertical")
    if req.table != TableRole.CUSTOMERS and req.table.value not in roles:
        raise Invalid(f"dataset {ds.name!r} has no {req.table.value} table")
    # order summaries feed aggregates, anonymisation and pseudonymized customers; masked and
    # full customer views do not need the orders decrypted at all
    # orders are transaction data: without that category they are neither read nor summarised
    transaction = not req.categories or Category.TRANSACTION.value in req.categories
    if req.table == TableRole.ORDERS and not transaction:
        raise Invalid("the orders table is transaction data: add --category transaction")
    wants_orders = transaction and (
        req.table == TableRole.ORDERS
        or req.level == Level.ANONYMIZED
        or (req.level == Level.PSEUDONYMIZED and req.table == TableRole.CUSTOMERS)
    )
    has_orders = TableRole.ORDERS.value in roles
    orders = read(TableRole.ORDERS) if wants_orders and has_orders else None
    types = column_types(customers.columns, stored=stored_types(uow, ds))
    if req.level == Level.ANONYMIZED:
        if req.table != TableRole.CUSTOMERS:
            raise Invalid(
                "anonymized works on the customers table (order summaries are columns there)"
            )
        analysed = add_derived(customers, orders=orders, on=today)
        if planted is not None and keys is not None:
            analysed = disguised(
                analysed, n=n, pool=None, keys=keys, ds=ds, level=req.level, types=types
            )
        if row_cap is not None and analysed.height > row_cap:
            analysed = analysed.sample(n=row_cap, seed=req.seed)
        _refuse_direct([*req.keep, *([req.sensitive] if req.sensitive else [])], types, "keep")
        qis = _quasi_identifiers(req, analysed, types)
        out, rep = anonymize(
            analysed,
            quasi_identifiers=qis,
            k=req.k,
            sensitive=req.sensitive,
            l=req.l_div,
            l_kind=req.l_kind,
            suppression=req.suppression,
            keep=list(req.keep),
            non_identifying=req.non_identifying,
            canaries=analysed.get_column("subject_id").str.starts_with(SUBJECT_PREFIX),
            seed=req.seed,
        )
        return out, rep.to_dict(), []
    frame = customers
    if req.table != TableRole.CUSTOMERS:
        frame = orders if req.table == TableRole.ORDERS and orders is not None else read(req.table)
        types = column_types(frame.columns, stored=stored_types(uow, ds))
    elif req.level == Level.PSEUDONYMIZED:
        frame = add_derived(customers, orders=orders, on=today)
        types = column_types(frame.columns, stored=stored_types(uow, ds))
    if req.table == TableRole.CUSTOMERS and keys is not None and req.level in SHUFFLED_LEVELS:
        order = row_order(
            keys.order, dataset_id=ds.id, record_ids=frame.get_column("record_id").to_numpy()
        )
        if planted is not None:
            pool = None
            if row_cap is not None and req.window is None and row_cap < frame.height:
                shown = order[:row_cap]  # a capped extract: donors among its own customers
                pool = np.sort(shown[shown < n])
            frame = disguised(frame, n=n, pool=pool, keys=keys, ds=ds, level=req.level, types=types)
        if req.level == Level.PSEUDONYMIZED:
            frame = perturbed(frame, key=keys.noise, dataset_id=ds.id)
        frame = frame.select(pl.all().gather(order))
    available = frame.height
    if req.window is not None:
        offset, limit = req.window
        frame = frame.slice(offset, limit)
    return _records(uow, keyring, req, ds, recipient, frame, available, row_cap, types)


def _aggregate(
    req: DisclosureRequest, *, ds: Dataset, roles: set[str], read: Reader, uow: UnitOfWork
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A safe aggregate of the dataset's customers (or of a child table with the customers'
    attributes): its table and the report of how it was made."""
    if req.table != TableRole.CUSTOMERS and req.table.value not in roles:
        raise Invalid(f"dataset {ds.name!r} has no {req.table.value} table")
    transaction = not req.categories or Category.TRANSACTION.value in req.categories
    if req.table == TableRole.ORDERS and not transaction:
        raise Invalid("the orders table is transaction data: add --category transaction")
    customers = read(TableRole.CUSTOMERS)
    has_orders = TableRole.ORDERS.value in roles
    orders = read(TableRole.ORDERS) if transaction and has_orders else None
    types = column_types(customers.columns, stored=stored_types(uow, ds))
    analysed = add_derived(customers, orders=orders, on=date.today())
    rows = analysed
    if req.table != TableRole.CUSTOMERS:
        child = orders if req.table == TableRole.ORDERS and orders is not None else read(req.table)
        rows = with_customer_attributes(child, customers=analysed)
    _refuse_direct(req.group_by, types, what="group by")
    rows = with_periods(rows, req.group_by)
    measures = [parse_measure(m) for m in req.measures]
    tops = [m for m in measures if m.kind == "top"]
    if tops and len(measures) > 1:
        raise Invalid("a top:COLUMN measure is released on its own; ask for it alone")
    result = aggregate(
        rows,
        by=list(req.group_by),
        measures=measures,
        subject="subject_id",
        k_min=req.k_min,
        epsilon=req.epsilon,
        seed=req.seed,
    )
    table = result.top[tops[0].label] if tops else result.table
    return table.with_columns(pl.col(pl.Float64).round(2)), result.report.to_dict()


def with_periods(rows: pl.DataFrame, group_by: Sequence[str]) -> pl.DataFrame:
    """``rows`` with a column for each ``COLUMN:year|quarter|month|week`` group (named so,
    e.g. ``registered_at:month``): the calendar period of each date, never the date."""
    added: list[pl.Series] = []
    for spec in dict.fromkeys(group_by):
        column, colon, unit = spec.partition(":")
        if not colon or spec in rows.columns:
            continue
        if unit not in DATE_UNITS:
            raise Invalid(f"group {spec!r}: a date column is grouped by {', '.join(DATE_UNITS)}")
        if column not in rows.columns:
            raise Invalid(f"no column {column!r} in the data")
        added.append(date_ranges(rows.get_column(column), unit=unit).alias(spec))
    return rows.with_columns(added) if added else rows


def _records(
    uow: UnitOfWork,
    keyring: KeyRing,
    req: DisclosureRequest,
    ds: Dataset,
    recipient: Organization,
    frame: pl.DataFrame,
    available: int,
    row_cap: int | None,
    types: dict[str, str | None],
) -> tuple[pl.DataFrame, dict[str, Any], list[str]]:
    """A record-level release of ``frame`` (the page, when one was asked for)."""
    if row_cap is not None:
        frame = frame.head(row_cap)
    subjects = frame.get_column("subject_id").unique(maintain_order=True).to_list()
    report: dict[str, Any] = {"customers": len(subjects)}
    if req.window is not None:
        report["rows_available"] = available
        report["offset"] = req.window[0]
        report["canaries"] = sum(1 for x in subjects if x.startswith(SUBJECT_PREFIX))
    if req.level == Level.FULL:
        return full_view(frame), report, subjects
    index_key = keyring.dataset_key(uow.keys, dataset_id=ds.id, purpose=INDEX, version=1)
    tokens = make_tokens(
        token_key(index_key, recipient_id=recipient.id),
        dataset_id=ds.id,
        record_ids=frame.get_column("record_id"),
    )
    if req.level == Level.MASKED:
        masked = masked_view(frame, types=types, tokens=tokens)
        report["linkage"] = masked_linkage(masked, types=types)
        return masked, report, subjects
    report["dropped_direct_identifiers"] = direct_columns(types)
    return pseudonymized_view(frame, types=types, tokens=tokens), report, subjects


RECORD_LEVELS = frozenset({Level.ANONYMIZED, Level.PSEUDONYMIZED, Level.MASKED, Level.FULL})
#: Record-level views of the customers released in the recipient's own row order.
SHUFFLED_LEVELS = frozenset({Level.PSEUDONYMIZED, Level.MASKED})
#: Record-level outputs that carry the recipient's canary customers (when it is not the seller).
CANARY_LEVELS = frozenset({Level.ANONYMIZED, Level.PSEUDONYMIZED, Level.MASKED})


def _quasi_identifiers(
    req: DisclosureRequest, frame: pl.DataFrame, types: dict[str, str | None]
) -> list[QuasiIdentifier]:
    names = list(req.quasi_identifiers) or default_quasi_identifiers(frame.columns)
    if not names:
        raise Invalid("no quasi-identifiers found; name them with --qi")
    _refuse_direct(names, types, what="quasi-identifier")
    out = []
    for spec in names:
        name, _, kind = spec.partition(":")
        if name not in frame.columns:
            known = ", ".join(c for c in frame.columns if c not in ("record_id", "subject_id"))
            raise Invalid(f"quasi-identifier {name!r} is not a column; columns: {known}")
        hierarchy: Hierarchy | None = None
        if name in req.hierarchies:
            hierarchy = Hierarchy.from_csv(req.hierarchies[name], name=name)
        elif name == "region_code":
            hierarchy = region_hierarchy()
        chosen = kind or (
            "numeric" if name in NUMERIC_QIS else "date" if name in DATE_QIS else "categorical"
        )
        if chosen not in ("numeric", "date", "categorical"):
            raise Invalid(f"quasi-identifier kind must be numeric, date or categorical: {spec!r}")
        out.append(QuasiIdentifier(column=name, kind=chosen, hierarchy=hierarchy))  # type: ignore[arg-type]
    return out


def default_quasi_identifiers(columns: Sequence[str]) -> list[str]:
    """Age, gender and region when the data has them (from the classification's fields)."""
    return [c for c in ("age", "gender", "region_code") if c in columns]


def _refuse_direct(names: Sequence[str], types: dict[str, str | None], what: str) -> None:
    direct = set(direct_columns(types))
    bad = [n.partition(":")[0] for n in names if n.partition(":")[0] in direct]
    if bad:
        raise Invalid(
            f"{', '.join(bad)} directly identif{'ies' if len(bad) == 1 else 'y'} a person and"
            f" cannot be a {what} column at this level"
        )
