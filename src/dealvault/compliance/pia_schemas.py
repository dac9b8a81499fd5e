"""What the impact assessment's use cases return: the assessment with its judgement (risks,
ratings, PIPL art. 56's three contents) and its sign-offs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from dealvault.compliance import pia_rating as rate
from dealvault.compliance.pia import inputs_of
from dealvault.compliance.pia_models import ComplianceImpactAssessment, ComplianceImpactSignoff


class SignoffOut(BaseModel):
    role: str = Field(description="counsel or security_officer")
    person: str
    at: datetime
    note: str | None = None


class RiskOut(BaseModel):
    id: str
    zh: str
    en: str
    likelihood: int = Field(description="1-4")
    impact: int = Field(description="1-4")
    score: int
    level: int = Field(description="1 低 low, 2 中 medium, 3 高 high, 4 严重 critical")
    level_zh: str
    level_en: str
    factors: list[str]
    measures: str


class Art56Out(BaseModel):
    zh: str
    en: str
    verdict: str
    reasons: list[str]


class PiaOut(BaseModel):
    id: int
    plan: int
    deal: str
    version: int
    sha256: str = Field(description="SHA-256 of the canonical JSON of the inputs.")
    generated_by: str
    generated_at: datetime
    kept_until: datetime = Field(description="Kept at least until then (PIPL art. 56).")
    stale: bool = Field(description="The plan's facts changed since: generate it again.")
    signoffs: list[SignoffOut]
    signed_off: bool = Field(description="Signed off by counsel and the security officer.")
    impact: int
    impact_factors: list[str]
    overall: int
    overall_zh: str
    overall_en: str
    risks: list[RiskOut]
    art56: list[Art56Out]
    inputs: dict[str, Any]


class PiaLine(BaseModel):
    id: int
    version: int
    generated_by: str
    generated_at: datetime
    kept_until: datetime
    stale: bool
    signoffs: list[str]
    overall_en: str


def view(
    row: ComplianceImpactAssessment, sigs: list[ComplianceImpactSignoff], *, deal: str,
    stale: bool,
) -> PiaOut:  # fmt: skip
    inputs = inputs_of(row)
    rs = rate.risks(inputs)
    imp, factors = rate.impact(inputs)
    worst = rate.overall(rs)
    roles = {s.role for s in sigs}
    return PiaOut(
        id=row.id, plan=row.plan_id, deal=deal, version=row.version, sha256=row.sha256,
        generated_by=row.generated_by, generated_at=row.generated_at, kept_until=row.kept_until,
        stale=stale,
        signoffs=[SignoffOut(role=s.role, person=s.person, at=s.at, note=s.note) for s in sigs],
        signed_off=roles >= {"counsel", "security_officer"},
        impact=imp, impact_factors=[f"{f.text} (+{f.step})" for f in factors],
        overall=worst, overall_zh=rate.LEVELS[worst][0], overall_en=rate.LEVELS[worst][1],
        risks=[
            RiskOut(id=r.id, zh=r.zh, en=r.en, likelihood=r.likelihood, impact=r.impact,
                    score=r.score, level=r.level, level_zh=rate.LEVELS[r.level][0],
                    level_en=rate.LEVELS[r.level][1],
                    factors=[f"{f.text} (+{f.step})" for f in r.factors], measures=r.measures)
            for r in rs
        ],
        art56=[Art56Out(zh=z, en=e, verdict=v, reasons=rr)
               for z, e, v, rr in rate.art56(inputs, rs)],
        inputs=inputs,
    )  # fmt: skip
