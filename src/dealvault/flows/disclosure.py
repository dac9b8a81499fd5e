"""Use case: disclose a dataset at a level to a recipient (decide, decrypt, de-identify, audit)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
from sqlalchemy import func, select

from dealvault.access import service as access
from dealvault.access.decision import Decision, allowed_level, decide
from dealvault.access.governance_models import Grant
from dealvault.access.grants import active_grants, consume_rows, rows_left
from dealvault.access.models import Deal, Organization, Person
from dealvault.access.policy import LEVELS, active_policy, level_rank
from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole, PartyRole
from dealvault.audit.service import EventIn
from dealvault.config import Settings
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.base import utcnow
from dealvault.db.stores import UnitOfWork
from dealvault.deidentify.aggregates import aggregate
from dealvault.deidentify.derive import add_derived, with_customer_attributes
from dealvault.deidentify.generalise import region_hierarchy
from dealvault.deidentify.hierarchy import Hierarchy
from dealvault.deidentify.kanon import QuasiIdentifier, anonymize
from dealvault.deidentify.levels import (
    Level,
    column_types,
    direct_columns,
    full_view,
    masked_view,
    pseudonymized_view,
)
from dealvault.deidentify.measures import parse_measure
from dealvault.deidentify.tokens import make_tokens, resolve_tokens, token_key
from dealvault.errors import Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce, resolve
from dealvault.flows.inventory import inventory
from dealvault.ingest.fields import Category, TableRole
from dealvault.transfer.canaries import SUBJECT_PREFIX, add_canaries, canaries_for
from dealvault.transfer.canary_seal import canary_keys
from dealvault.vault.models import CustomerRecord, Dataset, DatasetColumn, DatasetTable
from dealvault.vault.read import disclose_table

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
    keep: Sequence[str] = ()
    # aggregate
    group_by: Sequence[str] = ()
    measures: Sequence[str] = ("count",)
    k_min: int = 10
    epsilon: float | None = None
    categories: Sequence[str] = ()  # () = every category
    seed: int | None = None  # tests only: fixes the shuffle and the noise
    #: (offset, limit): release only this page of a masked, pseudonymized or full view (the
    #: row cap, the audit event's customers and the canaries count the page only)
    window: tuple[int, int] | None = None


@dataclass(frozen=True)
class Disclosure:
    """The released frame and what every output must state about it."""

    frame: pl.DataFrame
    meta: dict[str, Any]


def disclose(
    stores: AppStores,
    keyring: KeyRing,
    *,
    request: DisclosureRequest,
    settings: Settings | None = None,
) -> Disclosure:
    """Decide, decrypt, build the level, and record it: one transaction."""
    req = request
    if not req.purpose.strip():
        raise Invalid("a purpose is required for every disclosure (--purpose)")
    if req.level == Level.METADATA:
        return _metadata(stores, req)
    with stores.unit_of_work() as uow:
        person, d, ds = resolve(uow.records, actor=req.actor, deal=req.deal, dataset=req.dataset)
        recipient = _recipient(uow, req, default=person.organization)
        params = _parameters(req)
        event = EventIn(
            action="disclose",
            actor=person.email,
            authn=req.actor.authn.value,
            session=req.actor.session_id,
            client=req.actor.client,
            deal=d.code,
            purpose=req.purpose,
            objects={
                "dataset": ds.name,
                "table": req.table.value,
                "level": req.level.value,
                "recipient": recipient.name,
                "stage": d.stage,
                **{k: str(v) for k, v in params.items()},
            },
        )
        if recipient.id != person.organization_id and not _may_release_to_others(uow, person, d):
            enforce(
                stores,
                Decision(
                    False,
                    "none",
                    (
                        "only the seller's stewards may prepare disclosures "
                        "for another organisation",
                    ),
                ),
                event,
            )
        decision = decide(
            uow.records,
            actor=person,
            deal=d,
            action="read",
            level=req.level.value,
            categories=list(req.categories),
            dataset=ds.name,
            dataset_id=ds.id,
            purpose=req.purpose,
        )
        enforce(stores, decision, event)

        def read(role: TableRole) -> pl.DataFrame:
            return disclose_table(
                uow,
                keyring,
                actor=person,
                deal=d,
                dataset=ds,
                role=role,
                purpose=req.purpose,
                level=req.level.value,
                categories=list(req.categories) or None,
            )

        planted = None
        if req.level in CANARY_LEVELS and not _is_seller(d, recipient):
            planted = canaries_for(
                uow.records,
                keys=canary_keys(keyring, uow.keys),
                deal=d,
                dataset_id=ds.id,
                recipient=recipient,
                settings=settings or Settings(),
            )
        row_cap = decision.rows_left
        grant: Grant | None = None
        if decision.grant_id is not None and req.level in RECORD_LEVELS:
            # the grant's row is locked from here to the commit: concurrent reads on one grant
            # queue, and each builds from what the ones before it left of the cap
            grant = uow.records.get(Grant, decision.grant_id)
            assert grant is not None
            uow.records.refresh(grant, with_for_update=True)
            row_cap = rows_left(grant)
            if row_cap == 0:
                used_up = (
                    f"access denied: row cap of grant {grant.id} is used up "
                    f"({grant.rows_used} of {grant.row_cap} rows)"
                )
                enforce(stores, Decision(False, "none", (used_up,)), event)
        frame, report, subjects = _build(
            uow,
            keyring,
            req,
            ds=ds,
            recipient=recipient,
            read=read,
            row_cap=row_cap,
            canaries=planted,
        )
        if planted is not None:
            report.setdefault("canaries", planted.height)
        if grant is not None:
            report["grant"] = grant.id
            report["rows_left_before"] = row_cap
            consume_rows(grant, rows=frame.height)
        counts = {"rows": frame.height}
        counts.update({k: v for k, v in report.items() if isinstance(v, int) and k != "seed"})
        audit(
            stores,
            uow,
            replace(event, decision="allow", subjects=subjects, counts=counts),
        )
        meta = {
            "dealvault": "disclosure/v1",
            "level": req.level.value,
            "recipient": recipient.name,
            "generated_at": utcnow().isoformat(timespec="seconds"),
            "generated_by": person.email,
            "deal": d.code,
            "dataset": ds.name,
            "table": req.table.value,
            "purpose": req.purpose,
            "parameters": params,
            "report": report,
            "rows": frame.height,
            # record-level copies for another organisation carry its canary customers
            "canary_rows": int(report.get("canaries", 0)) if planted is not None else 0,
        }
        return Disclosure(frame=frame, meta=meta)


def _build(
    uow: UnitOfWork,
    keyring: KeyRing,
    req: DisclosureRequest,
    *,
    ds: Dataset,
    recipient: Organization,
    read: Any,
    row_cap: int | None = None,
    canaries: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, Any], list[str]]:
    """The released frame, the report of how it was made, the subjects it reveals records of.

    ``row_cap`` (from the grant relied on) bounds record-level output: customers are sampled
    before anonymisation (cutting a k-anonymous release afterwards could break k), and the
    first rows are kept for the other record levels.
    """
    roles = _table_roles(uow, ds)
    today = date.today()
    customers = read(TableRole.CUSTOMERS)
    if canaries is not None and req.level in CANARY_LEVELS:
        seed = req.seed
        if seed is None and req.window is not None:  # the same positions on every page
            seed = int.from_bytes(
                hashlib.sha256(f"{ds.id}|{recipient.id}|{customers.height}".encode()).digest()[:8]
            )
        customers = add_canaries(customers, canaries=canaries, seed=seed)
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
        or req.level in (Level.AGGREGATE, Level.ANONYMIZED)
        or (req.level == Level.PSEUDONYMIZED and req.table == TableRole.CUSTOMERS)
    )
    has_orders = TableRole.ORDERS.value in roles
    orders = read(TableRole.ORDERS) if wants_orders and has_orders else None
    types = column_types(customers.columns, stored=_stored_types(uow, ds))
    if req.level == Level.AGGREGATE:
        analysed = add_derived(customers, orders=orders, on=today)
        rows = analysed
        if req.table != TableRole.CUSTOMERS:
            child = (
                orders if req.table == TableRole.ORDERS and orders is not None else read(req.table)
            )
            rows = with_customer_attributes(child, customers=analysed)
        _refuse_direct(req.group_by, types, what="group by")
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
        rounded = table.with_columns(pl.col(pl.Float64).round(2))
        return rounded, result.report.to_dict(), []
    if req.level == Level.ANONYMIZED:
        if req.table != TableRole.CUSTOMERS:
            raise Invalid(
                "anonymized works on the customers table (order summaries are columns there)"
            )
        analysed = add_derived(customers, orders=orders, on=today)
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
            seed=req.seed,
        )
        return out, rep.to_dict(), []
    frame = customers
    if req.table != TableRole.CUSTOMERS:
        frame = orders if req.table == TableRole.ORDERS and orders is not None else read(req.table)
        types = column_types(frame.columns, stored=_stored_types(uow, ds))
    elif req.level == Level.PSEUDONYMIZED:
        frame = add_derived(customers, orders=orders, on=today)
        types = column_types(frame.columns, stored=_stored_types(uow, ds))
    available = frame.height
    if req.window is not None:
        offset, limit = req.window
        if offset < 0 or limit < 1:
            raise Invalid("a page needs an offset of 0 or more and a limit of 1 or more")
        frame = frame.slice(offset, limit)
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
        return masked_view(frame, types=types, tokens=tokens), report, subjects
    report["dropped_direct_identifiers"] = direct_columns(types)
    return pseudonymized_view(frame, types=types, tokens=tokens), report, subjects


RECORD_LEVELS = frozenset({Level.ANONYMIZED, Level.PSEUDONYMIZED, Level.MASKED, Level.FULL})
#: Record-level outputs that carry the recipient's canary customers (when it is not the seller).
CANARY_LEVELS = frozenset({Level.ANONYMIZED, Level.PSEUDONYMIZED, Level.MASKED})


def _is_seller(deal: Deal, org: Organization) -> bool:
    party = access.party_of(deal, org.id)
    return party is not None and party.role == PartyRole.SELLER


def _may_release_to_others(uow: UnitOfWork, person: Person, deal: Deal) -> bool:
    return MemberRole.SELLER_STEWARD in access.member_roles(uow.records, deal=deal, person=person)


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


def _recipient(uow: UnitOfWork, req: DisclosureRequest, *, default: Organization) -> Organization:
    if req.recipient is None:
        if req.level in (Level.FULL, Level.METADATA):
            return default
        raise Invalid(f"--recipient is required for the {req.level.value} level")
    return access.get_organization(uow.records, name=req.recipient)


def _parameters(req: DisclosureRequest) -> dict[str, Any]:
    if req.level == Level.ANONYMIZED:
        return {
            "quasi_identifiers": list(req.quasi_identifiers) or "default",
            "k": req.k,
            "l": req.l_div,
            "l_kind": req.l_kind if req.l_div else None,
            "sensitive": req.sensitive,
            "suppression": req.suppression,
            "keep": list(req.keep),
            "hierarchies": sorted(req.hierarchies),
        }
    if req.level == Level.AGGREGATE:
        return {
            "group_by": list(req.group_by),
            "measures": list(req.measures),
            "k_min": req.k_min,
            "epsilon": req.epsilon,
        }
    return {}


def _table_roles(uow: UnitOfWork, ds: Dataset) -> set[str]:
    return set(
        uow.records.scalars(select(DatasetTable.role).where(DatasetTable.dataset_id == ds.id))
    )


def _stored_types(uow: UnitOfWork, ds: Dataset) -> dict[str, str | None]:
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


def _metadata(stores: AppStores, req: DisclosureRequest) -> Disclosure:
    inv = inventory(stores, actor=req.actor, deal=req.deal, dataset=req.dataset)
    frame = pl.DataFrame([c.model_dump() for c in inv.columns])
    meta = {
        "dealvault": "disclosure/v1",
        "level": Level.METADATA.value,
        "recipient": req.recipient,
        "generated_at": inv.generated_at,
        "generated_by": req.actor.email,
        "deal": inv.deal,
        "dataset": inv.dataset,
        "purpose": req.purpose,
        "parameters": {},
        "report": inv.model_dump(exclude={"columns"}),
        "rows": frame.height,
    }
    return Disclosure(frame=frame, meta=meta)


@dataclass(frozen=True)
class TokenMatch:
    token: str
    subject_id: str | None


def resolve_recipient_tokens(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    recipient: str,
    tokens: Sequence[str],
    purpose: str,
) -> list[TokenMatch]:
    """Map a recipient's tokens back to subject ids (the seller's key is needed; audited)."""
    if not purpose.strip():
        raise Invalid("a purpose is required (--purpose)")
    with stores.unit_of_work() as uow:
        person, d, ds = resolve(uow.records, actor=actor, deal=deal, dataset=dataset)
        org = access.get_organization(uow.records, name=recipient)
        event = EventIn(
            action="token.resolve",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            deal=d.code,
            purpose=purpose,
            objects={"dataset": ds.name, "recipient": org.name, "stage": d.stage},
        )
        enforce(stores, decide(uow.records, actor=person, deal=d, action="token.resolve"), event)
        index_key = keyring.dataset_key(uow.keys, dataset_id=ds.id, purpose=INDEX, version=1)
        record_ids = resolve_tokens(
            token_key(index_key, recipient_id=org.id), dataset_id=ds.id, tokens=tokens
        )
        wanted = [r for r in record_ids if r is not None]
        subjects = dict(
            uow.records.execute(
                select(CustomerRecord.id, CustomerRecord.subject_id).where(
                    CustomerRecord.dataset_id == ds.id, CustomerRecord.id.in_(wanted)
                )
            ).all()
        )
        found = [subjects.get(r) if r is not None else None for r in record_ids]
        audit(
            stores,
            uow,
            replace(
                event,
                decision="allow",
                subjects=[s for s in found if s is not None],
                counts={"tokens": len(tokens), "resolved": sum(s is not None for s in found)},
            ),
        )
        return [TokenMatch(token=t, subject_id=s) for t, s in zip(tokens, found, strict=True)]


def view(
    stores: AppStores,
    keyring: KeyRing,
    *,
    request: DisclosureRequest,
    level: Level | None,
    settings: Settings | None = None,
) -> Disclosure:
    """What the acting person may see of a dataset: at ``level``, or at the highest level the
    policy, their agreements, training and grants allow now (never more)."""
    with stores.records_session() as s:
        person, d, ds = resolve(s, actor=request.actor, deal=request.deal, dataset=request.dataset)
        org = person.organization.name
        cats = list(request.categories) or [c.value for c in Category]
        best = {
            c: allowed_level(
                s, actor=person, deal=d, categories=[c], dataset=ds.name, dataset_id=ds.id
            )
            for c in cats
        }
        ranks = {c: level_rank(b.level) for c, b in best.items() if b.allowed}
        if level is None:  # the highest level any wanted category may be seen at
            level = Level(LEVELS[max(ranks.values())]) if ranks else Level.FULL  # FULL: denied
        chosen = [c for c, r in ranks.items() if r >= level_rank(level.value)]
        if not chosen and level != Level.METADATA:  # denied: ask for what the policy allows,
            policy = active_policy(
                s, deal=d
            )  # so the reasons name what is missing (grant, row cap…)
            roles = access.member_roles(s, deal=d, person=person)
            chosen = [
                c
                for c in cats
                for r in roles
                if policy.allows(role=r.value, stage=d.stage, level=level.value, categories=[c])[0]
            ]
            granted = {
                c
                for g in active_grants(s, person=person, deal=d, dataset_id=ds.id, at=utcnow())
                for c in g.categories.split(",")
            }
            chosen = [c for c in chosen if c in granted] if granted else chosen
        categories = list(request.categories) or list(dict.fromkeys(chosen)) or cats
    return disclose(
        stores,
        keyring,
        request=replace(request, level=level, recipient=org, categories=categories),
        settings=settings,
    )
