"""Retention's use cases: set a rule, list, review, what is due, and the scheduled run that
destroys what reached its end (a dataset crypto-shredded, a category's envelopes erased),
each with a signed destruction certificate. Audited with ids, dates and counts only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.models import Deal, Person
from dealvault.access.policy import active_policy
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import KeyUnavailable
from dealvault.files import check_output_dir, ensure_private_dir, write_private
from dealvault.flows.context import AppStores
from dealvault.flows.guard import acting, audit, authorize, completed, enforce
from dealvault.retention import service as rules
from dealvault.retention.models import RetentionRule
from dealvault.retention.service import DueOut, RuleOut, Term
from dealvault.vault import service as vault


def _today(today: date | None) -> date:
    return today or utcnow().astimezone(UTC).date()


def set_rule(
    stores: AppStores,
    *,
    actor: Principal,
    deal: str,
    dataset: str,
    category: str | None = None,
    keep_days: int | None = None,
    until: date | None = None,
    start: date | None = None,
    review_every: int,
    basis: str,
    today: date | None = None,
) -> RuleOut:
    """Create or change the retention of a dataset or one of its categories (seller
    steward): kept ``keep_days`` from ``start`` (default: the dataset's first import) or
    ``until`` a day; reviewed every ``review_every`` days; with its basis."""
    cat = rules.valid_category(category)
    day = _today(today)
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        ds = vault.get_dataset(s, deal=d, name=dataset)
        person, event = authorize(
            stores, s, actor=actor, action="retention.set", deal=d,
            event=EventIn(action="retention.set", objects={"dataset": ds.name, "category": cat}),
        )  # fmt: skip
        term = Term(start=start or rules.first_import(ds), keep_days=keep_days, until=until,
                    review_every=review_every, basis=basis)  # fmt: skip
        row, new = rules.set_rule(s, deal=d, dataset=ds, category=cat, term=term, by=person,
                                  today=day, now=utcnow())  # fmt: skip
        objects = {**event.objects, "rule": row.id, "end": row.end.isoformat(), "new": new}
        audit(stores, uow, replace(event, objects=objects,
                                   counts={"basis_chars": len(row.basis)}))  # fmt: skip
        return rules.view(s, row)


def list_rules(stores: AppStores, *, actor: Principal, deal: str) -> list[RuleOut]:
    """Every retention rule of a deal (active, destroyed, superseded)."""
    with stores.unit_of_work() as uow:
        s = uow.records
        d = access.get_deal(s, code=deal)
        _, event = authorize(stores, s, actor=actor, action="retention.read", deal=d,
                             event=EventIn(action="retention.list"))  # fmt: skip
        out = [rules.view(s, r) for r in rules.rules_of(s, deal=d)]
        audit(stores, uow, replace(event, counts={"rules": len(out)}))
        return out


def review_rule(
    stores: AppStores, *, actor: Principal, rule_id: int, note: str, today: date | None = None
) -> RuleOut:
    """Record a periodic review of a rule (its note kept with it, the audit log records its
    length): the next review is due ``review_every`` days later."""
    with stores.unit_of_work() as uow:
        s = uow.records
        row = rules.get(s, rule_id=rule_id)
        d = s.get(Deal, row.deal_id)
        person, event = authorize(
            stores, s, actor=actor, action="retention.review", deal=d,
            event=EventIn(action="retention.review", objects={"rule": row.id}),
        )  # fmt: skip
        rules.review(s, row, by=person, note=note, today=_today(today), now=utcnow())
        objects = {**event.objects, "next_review": row.next_review.isoformat()}
        audit(stores, uow, replace(event, objects=objects,
                                   counts={"chars": len(note.strip())}))  # fmt: skip
        return rules.view(s, row)


def _readable(stores: AppStores, s: Session, *, actor: Principal, deal: str | None,
              action: str, event: EventIn, none_ok: bool = False,
              ) -> tuple[Person, list[Deal], EventIn]:  # fmt: skip
    """The deal named (decided, a denial recorded), or every deal ``actor`` may take
    ``action`` in (a denial recorded when none); a frozen deal's decision refuses it,
    saying it is frozen."""
    if deal is not None:
        d = access.get_deal(s, code=deal)
        person, event = authorize(stores, s, actor=actor, action=action, deal=d, event=event)
        return person, [d], event
    event = completed(event, actor=actor, deal=None)
    person = acting(stores, s, actor, event)
    deals = [d for d in access.list_deals(s)
             if decide(s, actor=person, deal=d, action=action).allowed]  # fmt: skip
    if not deals and not none_ok:
        enforce(stores, Decision(False, "none", (f"{person.email} may take {action} in no "
                                                 "deal",)), event)  # fmt: skip
    return person, deals, replace(event, decision="allow", reasons=(f"may take {action}",))


def due_items(
    stores: AppStores, *, actor: Principal, deal: str | None = None, today: date | None = None
) -> list[DueOut]:
    """Reviews overdue or due within 14 days, and destructions due or upcoming, of ``deal``
    or of every deal the actor may read retention in."""
    day = _today(today)
    with stores.unit_of_work() as uow:
        s = uow.records
        _, deals, event = _readable(stores, s, actor=actor, deal=deal, action="retention.read",
                                    event=EventIn(action="retention.due"))  # fmt: skip
        found = [
            item
            for d in deals
            for item in rules.due(rules.rules_of(s, deal=d, active=True), today=day)
        ]
        out = [rules.due_view(s, i, today=day) for i in found]
        audit(stores, uow, replace(event, counts={"due": len(out)}))
        return out


class RunItem(BaseModel):
    """What a run did (or would do) with one rule that reached its end."""

    rule: int
    deal: str
    dataset: str
    category: str | None
    end: date
    outcome: str = Field(description="destroyed, would-destroy, held or superseded")
    customers: int = 0
    child_rows: int = 0
    keys_destroyed: int = 0
    certificate: int | None = None
    file: str | None = Field(default=None, description="The certificate's note, written.")
    why: str | None = Field(default=None, description="What holds it back, or supersedes it.")


class RunOut(BaseModel):
    today: date
    dry_run: bool
    items: list[RunItem]
    held_deals: list[str] = Field(default_factory=list, description="Deals frozen: not run.")


def run(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    deal: str | None = None,
    dry_run: bool = False,
    certificates: Path | None = None,
    today: date | None = None,
) -> RunOut:
    """Destroy what reached the end of its retention (for cron or a systemd timer): each
    rule in a transaction of its own with its certificate; a frozen deal, an open incident
    or a transfer plan not packaged holds it back. A second run finds nothing left to do."""
    from dealvault.flows.retention_run import destroy, plan_rule

    day = _today(today)
    if not dry_run and stores.audit.signer is None:
        raise KeyUnavailable("this store has no audit signing key; run 'dealvault init'")
    if certificates is not None and not dry_run:  # before anything is destroyed
        check_output_dir(certificates, what="certificates directory")
    with stores.unit_of_work() as uow:
        s = uow.records
        person, deals, event = _readable(
            stores, s, actor=actor, deal=deal, action="retention.run",
            event=EventIn(action="retention.run", objects={"dry_run": dry_run}), none_ok=True,
        )  # fmt: skip
        held = sorted(  # frozen deals the actor runs, with a retention ended: said, not run
            d.code for d in access.list_deals(s)
            if deal is None and d.frozen and _runs_unfrozen(s, person, d)
            and any(rules.ended(r, today=day) for r in rules.rules_of(s, deal=d, active=True))
        )  # fmt: skip
        if not deals and not held:
            why = f"{person.email} may take retention.run in no deal"
            enforce(stores, Decision(False, "none", (why,)), event)
        todo = [(d.code, r.id) for d in deals if not d.frozen
                for r in _ordered(rules.rules_of(s, deal=d, active=True))
                if rules.ended(r, today=day)]  # fmt: skip
    items: list[RunItem] = []
    shredded = False
    for _code, rule_id in todo:
        with stores.unit_of_work() as uow:
            item = plan_rule(uow, rule_id=rule_id, today=day, dry_run=dry_run)
            if item is not None and item.outcome == "would-destroy" and not dry_run:
                item = destroy(stores, uow, keyring, actor=actor, rule_id=rule_id, item=item)
                shredded = shredded or item.category is None
            if item is not None:
                items.append(item)
    with stores.unit_of_work() as uow:  # the run itself: what it did, in counts
        counts: dict[str, int] = {}
        for i in items:
            counts[i.outcome.replace("-", "_")] = counts.get(i.outcome.replace("-", "_"), 0) + 1
        audit(stores, uow, replace(event, counts={**counts, "held_deals": len(held)}))
    if shredded:
        stores.purge_deleted_keys()
    if certificates is not None:
        _write(stores, certificates, items)
    return RunOut(today=day, dry_run=dry_run, items=items, held_deals=held)


def _runs_unfrozen(s: Session, person: Person, deal: Deal) -> bool:
    """Whether the deal's policy lets ``person`` run retention there but for the freeze (to
    tell them it is held; the freeze itself refuses the run at the decision point)."""
    roles = access.store_roles(s, person=person) | {
        r.value for r in access.member_roles(s, deal=deal, person=person)
    }
    ok, _ = active_policy(s, deal=deal).allows_action(
        action="retention.run", roles=roles, stage=deal.stage, frozen=False, targets_self=False
    )
    return ok


def _ordered(rows: list[RetentionRule]) -> list[RetentionRule]:
    """Whole-dataset rules first: a dataset going as a whole supersedes its category rules."""
    return sorted(rows, key=lambda r: (r.category is not None, r.end, r.id))


def _write(stores: AppStores, directory: Path, items: list[RunItem]) -> None:
    """Each new certificate's signed note, ``certificate-<n>.note``, mode 0600."""
    from dealvault.transfer.models import DestructionCertificate

    wanted = [i for i in items if i.certificate is not None]
    if not wanted:
        return
    ensure_private_dir(directory, what="certificates directory")
    with stores.records_session() as s:
        for item in wanted:
            row = s.get(DestructionCertificate, item.certificate)
            if row is not None:
                path = directory / f"certificate-{row.id}.note"
                write_private(path, row.note)
                item.file = str(path)
