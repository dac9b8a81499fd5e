"""Use case: disclose a dataset at a level to a recipient (decide, decrypt, de-identify, audit)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision, allowed_level, decide
from dealvault.access.governance_models import Grant
from dealvault.access.grant_use import active_grants, add_rows, consume_rows, rows_left
from dealvault.access.models import Deal, Organization, Person
from dealvault.access.policy import LEVELS, active_policy, level_rank
from dealvault.access.principal import Principal
from dealvault.access.stages import MemberRole, PartyRole
from dealvault.audit.service import EventIn
from dealvault.config import Settings
from dealvault.crypto.keyring import INDEX, KeyRing
from dealvault.db.base import utcnow
from dealvault.db.memo import remembered
from dealvault.db.stores import UnitOfWork
from dealvault.deidentify.levels import (
    Level,
)
from dealvault.deidentify.tokens import resolve_tokens, token_key
from dealvault.errors import Forbidden, Invalid
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce, resolve
from dealvault.flows.inventory import inventory
from dealvault.flows.release import CANARY_LEVELS, RECORD_LEVELS, build
from dealvault.flows.release import DisclosureRequest as DisclosureRequest
from dealvault.flows.use_restriction import use_restriction
from dealvault.ingest.fields import Category, TableRole
from dealvault.transfer.canaries import canaries_for
from dealvault.transfer.canary_seal import canary_keys
from dealvault.vault.models import CustomerRecord, Dataset
from dealvault.vault.read import active_record_ids, disclose_table


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
    choose: Chooser | None = None,
) -> Disclosure:
    """Decide, decrypt, build the level, and record it: one transaction. ``choose`` (for
    :func:`view`) settles the level and categories in that transaction once the person,
    deal and dataset are known."""
    req = request
    if not req.purpose.strip():
        raise Invalid("a purpose is required for every disclosure (--purpose)")
    if req.level == Level.METADATA and choose is None:
        return _metadata(stores, req)
    with stores.unit_of_work() as uow, remembered(uow.records), remembered(uow.keys):
        person, d, ds = resolve(uow.records, actor=req.actor, deal=req.deal, dataset=req.dataset)
        if choose is not None:
            req = choose(uow.records, person, d, ds)
            if req.level == Level.METADATA:
                return _metadata(stores, req)
        recipient = _recipient(uow, req, default=person.organization)
        params = _parameters(req)
        event = EventIn(
            action="disclose",
            actor=person.email,
            authn=req.actor.authn.value,
            session=req.actor.session_id,
            client=req.actor.client,
            device=req.actor.device,
            deal=d.code,
            purpose=req.purpose,
            objects={
                "dataset": ds.name,
                "table": req.table.value,
                "level": req.level.value,
                "recipient": recipient.name,
                "stage": d.stage,
                **({"use": req.use} if req.use else {}),
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

        try:
            restricted = use_restriction(uow.records, dataset=ds, use=req.use)
        except Forbidden as refused:  # recorded as the denial it is
            enforce(stores, Decision(False, "none", (str(refused),)), event)
            raise  # pragma: no cover - enforce raised
        left_out = {"n": 0}

        def read(
            role: TableRole,
            span: tuple[int, int] | None = None,
            records: Sequence[int] | None = None,
        ) -> pl.DataFrame:
            cats = list(req.categories) or None
            if restricted is not None and cats is not None and role is TableRole.CUSTOMERS:
                cats = sorted({*cats, restricted.category})
            frame = disclose_table(
                uow,
                keyring,
                actor=person,
                deal=d,
                dataset=ds,
                role=role,
                purpose=req.purpose,
                level=req.level.value,
                categories=cats,
                span=span,
                records=records,
            )
            if restricted is None or role is not TableRole.CUSTOMERS:
                return frame
            kept = restricted.keep(frame)
            left_out["n"] += frame.height - kept.height
            return kept

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
            grant = uow.records.get(Grant, decision.grant_id)
            assert grant is not None
        if grant is not None and grant.row_cap is not None:
            # a capped grant's row is locked from here to the commit: concurrent reads on one
            # grant queue, and each builds from what the ones before it left of the cap
            uow.records.refresh(grant, with_for_update=True)
            row_cap = rows_left(grant)
            if row_cap == 0:
                used_up = (
                    f"access denied: row cap of grant {grant.id} is used up "
                    f"({grant.rows_used} of {grant.row_cap} rows)"
                )
                enforce(stores, Decision(False, "none", (used_up,)), event)
        frame, report, subjects = build(
            uow,
            keyring,
            req,
            ds=ds,
            recipient=recipient,
            read=read,
            record_ids=lambda: active_record_ids(uow, dataset=ds),
            row_cap=row_cap,
            canaries=planted,
        )
        if planted is not None:
            report.setdefault("canaries", planted.height)
        if restricted is not None:
            report["use_not_permitted"] = left_out["n"]
        if grant is not None:
            report["grant"] = grant.id
            report["rows_left_before"] = row_cap
            if grant.row_cap is None:  # nothing to queue for: count the rows atomically
                add_rows(uow.records, grant_id=grant.id, rows=frame.height)
            else:
                consume_rows(grant, rows=frame.height, locked=True)
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
            # the person's name: the visible watermark of pages and files names who took it
            "generated_by_name": person.name,
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


def _is_seller(deal: Deal, org: Organization) -> bool:
    party = access.party_of(deal, org.id)
    return party is not None and party.role == PartyRole.SELLER


def _may_release_to_others(uow: UnitOfWork, person: Person, deal: Deal) -> bool:
    return MemberRole.SELLER_STEWARD in access.member_roles(uow.records, deal=deal, person=person)


def _recipient(uow: UnitOfWork, req: DisclosureRequest, *, default: Organization) -> Organization:
    if req.recipient == default.name:
        return default
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
            "non_identifying": dict(req.non_identifying),
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
            device=actor.device,
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


#: Settles a view's level and categories once the person, deal and dataset are resolved.
Chooser = Callable[[Session, Person, Deal, Dataset], DisclosureRequest]


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

    def choose(s: Session, person: Person, d: Deal, ds: Dataset) -> DisclosureRequest:
        at, categories = _choose(s, person, d, ds, request=request, level=level)
        org = person.organization.name
        return replace(request, level=at, recipient=org, categories=categories)

    return disclose(stores, keyring, request=request, settings=settings, choose=choose)


def _choose(
    s: Session,
    person: Person,
    d: Deal,
    ds: Dataset,
    *,
    request: DisclosureRequest,
    level: Level | None,
) -> tuple[Level, list[str]]:
    """The level to release (the highest any wanted category may be seen at, unless given)
    and the categories to release at it."""
    cats = list(request.categories) or [c.value for c in Category]
    if level is not None and request.categories:  # both given: the disclosure decides them
        return level, cats
    if level is None:  # the highest level any wanted category may be seen at
        best = {
            c: allowed_level(
                s, actor=person, deal=d, categories=[c], dataset=ds.name, dataset_id=ds.id
            )
            for c in cats
        }
        ranks = {c: level_rank(b.level) for c, b in best.items() if b.allowed}
        level = Level(LEVELS[max(ranks.values())]) if ranks else Level.FULL  # FULL: denied
        chosen = [c for c, r in ranks.items() if r >= level_rank(level.value)]
    else:  # the categories that may be seen at the level asked for
        chosen = [
            c
            for c in cats
            if decide(
                s,
                actor=person,
                deal=d,
                action="read",
                categories=[c],
                level=level.value,
                dataset=ds.name,
                dataset_id=ds.id,
            ).allowed
        ]
    if not chosen and level != Level.METADATA:  # denied: ask for what the policy allows, so
        policy = active_policy(s, deal=d)  # the reasons name what is missing (grant, cap…)
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
    return level, list(request.categories) or list(dict.fromkeys(chosen)) or cats
