"""Cross-border rules of the gate: PIPL art. 38-40 with the volumes since 1 January counted
from the store, GDPR art. 44-49 for EU/EEA data subjects, and the mechanisms counsel records.

The thresholds, sources, adequacy decisions and EU/EEA states come from the versioned rules
file (compliance/crossborder.toml, :mod:`dealvault.compliance.crossborder_file`). This module
does not import :mod:`dealvault.compliance.rules` at run time (that module lists these rules):
the checks build findings through the :class:`~dealvault.compliance.rules.Rule` they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, Field
from sqlalchemy import String, case, func, literal, select
from sqlalchemy.orm import Session

from dealvault.compliance.crossborder_file import (
    KINDS,
    SATISFIES,
    CrossBorderRules,
    Threshold,
    shipped,
)
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Invalid
from dealvault.ingest.fields import Category
from dealvault.transfer.models import TransferMechanism, TransferPackage, TransferPlan
from dealvault.vault.flags import count_flags

if TYPE_CHECKING:
    from dealvault.compliance.rules import FindingIn, PlanFacts, Rule

MAX_REFERENCE: Final = 500
_LABEL: Final = {
    "security_assessment": "security assessment by the CAC (数据出境安全评估)",
    "standard_contract": "standard contract filed with the CAC (个人信息出境标准合同) or a "
    "personal information protection certification",
}


# -- facts --------------------------------------------------------------------------------
def year_start(now: datetime, rules: CrossBorderRules) -> datetime:
    """1 January 00:00 of ``now``'s year in the rules' time zone (Beijing), as UTC."""
    tz = timezone(timedelta(hours=rules.pipl.year_start_utc_offset_hours))
    local = now.astimezone(tz)
    return datetime(local.year, 1, 1, tzinfo=tz).astimezone(UTC)


def provided_abroad(
    session: Session, *, since: datetime, rules: CrossBorderRules, excluding_plan: int | None
) -> tuple[int, int]:
    """Customers in packages built since ``since`` for plans whose destination is outside the
    mainland, and those of them in packages of plans handing over sensitive information (a
    customer in two packages counts twice: the counts are the packages')."""
    cats = literal(",", String) + TransferPlan.categories + literal(",", String)
    sensitive = cats.like(f"%,{Category.SENSITIVE.value},%")
    query = (
        select(
            func.coalesce(func.sum(TransferPackage.customers), 0),
            func.coalesce(func.sum(case((sensitive, TransferPackage.customers), else_=0)), 0),
        )
        .join(TransferPlan, TransferPlan.id == TransferPackage.plan_id)
        .where(
            TransferPackage.created_at >= since,
            TransferPlan.destination.not_in(rules.mainland.codes),
        )
    )
    if excluding_plan is not None:  # this plan's own customers are counted as eligible
        query = query.where(TransferPackage.plan_id != excluding_plan)
    total, sens = session.execute(query).one()
    return int(total or 0), int(sens or 0)


def mechanisms(session: Session, *, plan_id: int) -> list[TransferMechanism]:
    return list(
        session.scalars(
            select(TransferMechanism)
            .where(TransferMechanism.plan_id == plan_id)
            .order_by(TransferMechanism.kind)
        )
    )


def facts(session: Session, plan: TransferPlan, *, now: datetime | None = None) -> dict[str, Any]:
    """The cross-border fields of ``PlanFacts`` for ``plan``: its destination, the customers
    provided abroad since 1 January by other plans, its EU/EEA subjects (active), customers
    without flags, and the mechanisms recorded."""
    rules = shipped()
    since = year_start(now or utcnow(), rules)
    prior, prior_sensitive = provided_abroad(
        session, since=since, rules=rules, excluding_plan=plan.id
    )
    flags = count_flags(session, dataset_id=plan.dataset_id)
    return {
        "destination": plan.destination,
        "abroad_prior": prior,
        "abroad_prior_sensitive": prior_sensitive,
        "eu_subjects": flags["eu"],
        "flags_unknown": flags["unknown"],
        "mechanisms": tuple(m.kind for m in mechanisms(session, plan_id=plan.id)),
    }


# -- rules --------------------------------------------------------------------------------
def required(individuals: int, sensitive: int, rules: CrossBorderRules) -> Threshold | None:
    """The strictest mechanism the volumes call for (None: none needed)."""
    for t in rules.pipl.thresholds:
        if individuals >= t.min_individuals or sensitive >= t.min_sensitive:
            return t
    return None


def _mechanism(f: PlanFacts, rule: Rule) -> FindingIn | None:
    rules = shipped()
    if not rules.outside_mainland(f.destination) or f.eligible == 0:
        return None
    own_sensitive = f.eligible if Category.SENSITIVE.value in f.categories else 0
    individuals = f.abroad_prior + f.eligible
    sensitive = f.abroad_prior_sensitive + own_sensitive
    need = required(individuals, sensitive, rules)
    if need is None or any(need.mechanism in SATISFIES.get(k, ()) for k in f.mechanisms):
        return None
    found = rule.found(
        f"the plan provides {f.eligible:,} customer(s) to {f.destination} (outside the "
        f"mainland); with {f.abroad_prior:,} provided abroad since 1 January, that is "
        f"{individuals:,} individual(s), {sensitive:,} with sensitive personal information: a "
        f"{_LABEL[need.mechanism]} is required ({need.article}). Record it with 'dealvault "
        "plan mechanism' once in place; a weaker mechanism does not clear this",
        individuals=individuals,
        sensitive=sensitive,
        provided_before=f.abroad_prior,
    )
    cited = f"{need.article}; {rules.sources['pipl'].en} [{rules.short()}]"
    return replace(found, source=cited)


def _gdpr(f: PlanFacts, rule: Rule) -> FindingIn | None:
    rules = shipped()
    if f.eu_subjects == 0 or rules.in_eea(f.destination):
        return None
    adequacy = rules.adequacy_of(f.destination)
    if adequacy is not None and adequacy.scope is None:
        return None
    clears = {"scc", "derogation"} | ({"adequacy"} if adequacy is not None else set())
    if clears & set(f.mechanisms):
        return None
    why = (
        f"the adequacy decision for {adequacy.name} covers only {adequacy.scope}"
        if adequacy is not None
        else f"{f.destination} has no adequacy decision (as of {rules.as_of:%Y-%m-%d})"
    )
    found = rule.found(
        f"{f.eu_subjects:,} customer(s) are EU/EEA data subjects and {why}: record standard "
        "contractual clauses (art. 46) or a derogation (art. 49)"
        + (", or that the recipient is covered (adequacy)" if adequacy is not None else "")
        + ". Whether the GDPR applies to the seller for them (art. 3(2)) is for counsel",
        eu_subjects=f.eu_subjects,
    )
    cited = f"{rules.sources['gdpr'].en}; {rules.sources['scc'].en} [{rules.short()}]"
    return replace(found, source=cited)


def _unknown(f: PlanFacts, rule: Rule) -> FindingIn | None:
    if f.flags_unknown == 0:
        return None
    return rule.found(
        f"{f.flags_unknown} customer(s) of {f.dataset} were imported before per-customer "
        "flags: EU/EEA subjects among them are not counted; import the source again to "
        "set their flags",
        customers=f.flags_unknown,
    )


Check = Callable[["PlanFacts", "Rule"], "FindingIn | None"]
#: (id, title, source, blocking, check) of each cross-border rule, made into Rules by
#: compliance/rules.py
CROSSBORDER_RULES: Final[tuple[tuple[str, str, str, bool, Check], ...]] = (
    ("cross-border-mechanism", "Cross-border transfer mechanism (PIPL)",
     "PIPL art. 38-40; 促进和规范数据跨境流动规定 art. 5, 7, 8 (crossborder.toml)", True,
     _mechanism),
    ("gdpr-transfer", "Transfer of EU/EEA data subjects' data (GDPR)",
     "GDPR art. 44-49 (crossborder.toml)", True, _gdpr),
    ("flags-unknown", "Customers imported before per-customer flags",
     "PIPL art. 38-40; GDPR art. 44", False, _unknown),
)  # fmt: skip


# -- mechanisms recorded ------------------------------------------------------------------
def record_mechanism(
    session: Session, *, plan: TransferPlan, kind: str, reference: str, by: int, now: datetime
) -> TransferMechanism:
    """Record (or replace) the plan's mechanism of ``kind`` with its reference."""
    if kind not in KINDS:
        raise Invalid(f"unknown mechanism kind (one of {', '.join(KINDS)})")
    reference = reference.strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise Invalid(
            f"a mechanism needs a reference (a filing number, the contract's date...; at most "
            f"{MAX_REFERENCE} characters)"
        )
    if plan.status == "denied":
        raise Conflict(f"transfer plan {plan.id} was denied: nothing more is recorded on it")
    row = session.scalar(
        select(TransferMechanism).where(
            TransferMechanism.plan_id == plan.id, TransferMechanism.kind == kind
        )
    )
    if row is None:
        row = TransferMechanism(plan_id=plan.id, kind=kind)
        session.add(row)
    row.reference, row.recorded_by, row.recorded_at = reference, by, now
    session.flush()
    return row


# -- the rules listed ---------------------------------------------------------------------
class RuleOut(BaseModel):
    id: str
    title: str
    source: str = Field(description="The legal sources the rule rests on.")
    kind: str = Field(description="blocking or advisory")


class RulesOut(BaseModel):
    rules: list[RuleOut]
    crossborder_version: int
    crossborder_as_of: str
    crossborder_file: str
    #: the file's sources: instrument and article in English and Chinese, effective date
    crossborder_sources: dict[str, str]


def catalogue(
    rules: CrossBorderRules | None = None, *, file: str = "compliance/crossborder.toml"
) -> RulesOut:
    """Every rule of the gate, with the cross-border file's version and date."""
    from dealvault.compliance.rules import RULES

    xb = rules or shipped()
    listed = [
        RuleOut(
            id=r.id, title=r.title, source=r.source, kind="blocking" if r.blocking else "advisory"
        )
        for r in RULES
    ]
    return RulesOut(
        rules=listed,
        crossborder_version=xb.version,
        crossborder_as_of=f"{xb.as_of:%Y-%m-%d}",
        crossborder_file=file,
        crossborder_sources={k: s.cite() for k, s in xb.sources.items()},
    )
