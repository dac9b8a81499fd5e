"""A leaked file traced to the recipient it was released to (its canaries, tokens and
subjects), for the seller's stewards and security officers; every trace is recorded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dealvault.access import service as access
from dealvault.access.decision import Decision, decide
from dealvault.access.principal import Principal
from dealvault.audit.service import EventIn
from dealvault.crypto.keyring import KeyRing
from dealvault.flows.context import AppStores
from dealvault.flows.guard import audit, enforce, person_of
from dealvault.transfer import trace as tracing
from dealvault.transfer.trace import TraceResult


def trace_file(
    stores: AppStores,
    keyring: KeyRing,
    *,
    actor: Principal,
    path: Path,
    deal: str | None = None,
    purpose: str = "leak investigation",
) -> TraceResult:
    """Name the recipient of a leaked file (the deal's, or every deal the actor may trace in).

    Allowed to the seller's stewards and security officers, also on a frozen deal (tracing
    reveals no customer data); the file's digest, verdict and the exposed subjects are audited.
    """
    with stores.unit_of_work() as uow:
        s = uow.records
        person = person_of(s, actor)
        event = EventIn(
            action="trace",
            actor=person.email,
            authn=actor.authn.value,
            session=actor.session_id,
            client=actor.client,
            device=actor.device,
            deal=deal,
            purpose=purpose,
            objects={"file": path.name},
        )
        if deal is not None:
            deals = [access.get_deal(s, code=deal)]
        else:  # every deal the actor may trace in (none: a recorded denial)
            deals = [
                d for d in access.list_deals(s) if access.member_roles(s, deal=d, person=person)
            ]
            deals = [d for d in deals if decide(s, actor=person, deal=d, action="trace").allowed]
        decisions = [decide(s, actor=person, deal=d, action="trace") for d in deals]
        reasons = [r for dec in decisions if not dec.allowed for r in dec.reasons]
        if not deals:
            reasons.append(f"{person.email} may trace in no deal")
        ok = not reasons
        enforce(stores, Decision(ok, "none", tuple(reasons) or ("may trace",)), event)
        result = tracing.trace_file(uow, keyring, path=path, deals=deals)
        top = result.evidence[0] if result.evidence else None
        audit(
            stores,
            uow,
            replace(
                event,
                decision="allow",
                objects={
                    "file": path.name,
                    "sha256": result.sha256,
                    "format": result.format,
                    "verdict": result.verdict,
                    "confidence": result.confidence,
                    "deals": ",".join(d.code for d in deals),
                },
                counts={
                    "rows": result.rows,
                    "tokens_seen": result.tokens_seen,
                    "canaries_found": top.canaries_found if top else 0,
                    "customers_exposed": len(result.subject_ids),
                },
                subjects=result.subject_ids,
            ),
        )
        return result
