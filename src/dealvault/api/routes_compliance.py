"""The compliance gate over HTTP, for the parties who act in it from their own organisation
(counsel, the security officer, the seller's stewards, the auditor): check a plan, its
findings and report, waive a finding, the impact assessment and its sign-off, the content
review, cross-border mechanisms, consents and retention. Each handler calls one flow."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi import Path as InPath
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dealvault.api.deps import Actor, Ctx
from dealvault.api.errors import COMMON, DB_INT_MAX, Text, error_responses
from dealvault.api.routes_audit import attachment
from dealvault.compliance import pia_report
from dealvault.compliance import report as compliance_doc
from dealvault.compliance.content import ReviewOut
from dealvault.compliance.content_words import load_words
from dealvault.compliance.pia_schemas import PiaLine, PiaOut
from dealvault.compliance.rules_crossborder import RulesOut
from dealvault.compliance.service import FindingOut
from dealvault.documents import MEDIA, render_as
from dealvault.flows import compliance, compliance_pia, compliance_review, consent, crossborder
from dealvault.flows import retention as retention_flows
from dealvault.flows.compliance import CheckOut
from dealvault.flows.consent import ConsentSummaryOut
from dealvault.flows.crossborder import MechanismOut
from dealvault.retention.service import DueOut, RuleOut

router = APIRouter(prefix="/api", tags=["compliance"], responses=error_responses(*COMMON))
Id = Annotated[int, InPath(ge=1, le=DB_INT_MAX)]
DealCode = Annotated[Text, InPath(max_length=64)]
Dataset = Annotated[Text, InPath(max_length=200)]
Format = Literal["html", "pdf"]
DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}, "application/pdf": {}}}
}


class WaiveIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=4000, description="Why the finding may stand.")


class SignIn(BaseModel):
    role: Literal["counsel", "security_officer"]
    note: Text | None = Field(default=None, max_length=4000)


class MechanismIn(BaseModel):
    kind: Text = Field(max_length=40, description="security_assessment, standard_contract, "
                       "certification, scc, adequacy or derogation")  # fmt: skip
    reference: Text = Field(min_length=1, max_length=500)


class ReviewNoteIn(BaseModel):
    note: Text = Field(min_length=1, max_length=4000)


@router.get("/compliance/rules")
def rules(actor: Actor) -> RulesOut:
    """Every rule of the gate with its legal source and kind, and the cross-border rules
    file's version and date (reads no store; any signed-in person)."""
    return crossborder.rules_catalogue()


@router.post("/plans/{plan_id}/compliance/check")
def check(plan_id: Id, ctx: Ctx, actor: Actor) -> CheckOut:
    """Check the plan against every rule now (`compliance.check`); `passed` says whether the
    gate is open."""
    return compliance.check_plan(ctx.stores, actor=actor, plan_id=plan_id)


@router.get("/plans/{plan_id}/compliance")
def findings(plan_id: Id, ctx: Ctx, actor: Actor) -> CheckOut:
    """The plan's findings as of its last check (`compliance.read`)."""
    return compliance.list_findings(ctx.stores, actor=actor, plan_id=plan_id)


@router.post("/compliance/findings/{finding_id}/waive")
def waive(finding_id: Id, body: WaiveIn, ctx: Ctx, actor: Actor) -> FindingOut:
    """Counsel waives an open finding with a written reason (never the plan's author)."""
    return compliance.waive_finding(
        ctx.stores, actor=actor, finding_id=finding_id, reason=body.reason
    )


@router.get("/plans/{plan_id}/compliance/report", responses=DOCUMENT)
def report(plan_id: Id, ctx: Ctx, actor: Actor, format: Format = "pdf") -> Response:
    """The plan's compliance report for the deal file (`compliance.read`)."""
    out = compliance.compliance_report(ctx.stores, actor=actor, plan_id=plan_id)
    body = render_as(compliance_doc.render_html(out), format)
    return attachment(body, media=MEDIA[format], name=f"plan-{plan_id}-compliance.{format}")


@router.post("/plans/{plan_id}/compliance/review")
def review(plan_id: Id, ctx: Ctx, actor: Actor) -> ReviewOut:
    """Review the notes the plan hands over against the configured word list and the
    customers' own values (`compliance.review`; counts only)."""
    return compliance_review.review_plan(
        ctx.stores, ctx.keyring, actor=actor, plan_id=plan_id,
        words=load_words(ctx.settings.content_words),
    )  # fmt: skip


@router.post("/plans/{plan_id}/mechanisms")
def mechanism(plan_id: Id, body: MechanismIn, ctx: Ctx, actor: Actor) -> MechanismOut:
    """Counsel records the cross-border mechanism the plan rests on (`plan.mechanism`)."""
    return crossborder.record_mechanism(
        ctx.stores, actor=actor, plan_id=plan_id, kind=body.kind, reference=body.reference
    )


@router.post("/plans/{plan_id}/pias")
def pia_generate(plan_id: Id, ctx: Ctx, actor: Actor) -> PiaOut:
    """Generate the plan's impact assessment, a new version (`compliance.pia`)."""
    return compliance_pia.generate(ctx.stores, ctx.keyring, actor=actor, plan_id=plan_id)


@router.get("/plans/{plan_id}/pias")
def pia_list(plan_id: Id, ctx: Ctx, actor: Actor) -> list[PiaLine]:
    """The plan's impact assessments, newest last (`compliance.read`)."""
    return compliance_pia.list_pias(ctx.stores, actor=actor, plan_id=plan_id)


@router.get("/pias/{pia_id}")
def pia_show(pia_id: Id, ctx: Ctx, actor: Actor) -> PiaOut:
    """One impact assessment with its risks, ratings and sign-offs (`compliance.read`)."""
    return compliance_pia.show(ctx.stores, actor=actor, pia_id=pia_id)


@router.get("/pias/{pia_id}/export", responses=DOCUMENT)
def pia_export(pia_id: Id, ctx: Ctx, actor: Actor, format: Format = "pdf") -> Response:
    """The impact assessment as a document for the deal file (`compliance.read`)."""
    out = compliance_pia.show(ctx.stores, actor=actor, pia_id=pia_id, export=True)
    body = render_as(pia_report.render_html(out), format)
    return attachment(body, media=MEDIA[format], name=f"impact-assessment-{pia_id}.{format}")


@router.post("/pias/{pia_id}/sign")
def pia_sign(pia_id: Id, body: SignIn, ctx: Ctx, actor: Actor) -> PiaOut:
    """Sign the assessment off as counsel or security officer, a role held in the deal
    (`compliance.pia_sign`; never the plan's author; signed in, not with a token)."""
    return compliance_pia.sign(
        ctx.stores, actor=actor, pia_id=pia_id, role=body.role, note=body.note
    )


@router.get("/deals/{deal}/datasets/{dataset}/consents")
def consents(deal: DealCode, dataset: Dataset, ctx: Ctx, actor: Actor) -> ConsentSummaryOut:
    """Consents held per purpose and the active customers holding one in force
    (`consent.read`)."""
    return consent.consent_summary(ctx.stores, actor=actor, deal=deal, dataset=dataset)


@router.get("/deals/{deal}/retention")
def retention_rules(deal: DealCode, ctx: Ctx, actor: Actor) -> list[RuleOut]:
    """The deal's retention rules (`retention.read`)."""
    return retention_flows.list_rules(ctx.stores, actor=actor, deal=deal)


@router.get("/deals/{deal}/retention/due")
def retention_due(deal: DealCode, ctx: Ctx, actor: Actor) -> list[DueOut]:
    """Reviews overdue or due within 14 days, and destructions due or upcoming."""
    return retention_flows.due_items(ctx.stores, actor=actor, deal=deal)


@router.post("/retention/{rule_id}/review")
def retention_review(rule_id: Id, body: ReviewNoteIn, ctx: Ctx, actor: Actor) -> RuleOut:
    """Record a periodic review of a retention rule (`retention.review`: stewards, counsel)."""
    return retention_flows.review_rule(ctx.stores, actor=actor, rule_id=rule_id, note=body.note)
