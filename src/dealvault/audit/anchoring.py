"""Which audit events are security-relevant, so the log signs a checkpoint right after them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SECURITY_PREFIXES: Final = (
    "access.",  # requests, approvals, grants, denials, revocations
    "account.",  # invitations, activation, second-factor enrolment, disable/enable
    "agreement.",  # agreements gate access
    "backup.",  # create, verify, restore
    "certificate.",  # destruction/return certificates
    "deal.",  # creation, parties, membership and roles, stage changes, freeze/unfreeze
    "keys.",  # master- and data-key rotation
    "package.",  # build, canaries, verify, receive, review
    "policy.",  # access policy changes
    "training.",  # training records gate access
    "transfer.plan.",  # transfer plans, their approvals, PIPL art. 22 notices and objections
)
"""Every action starting with one of these is security-relevant."""

SECURITY_ACTIONS: Final = frozenset(
    {
        "classify.override",  # what counts as personal or sensitive
        "customer.status",  # opt-outs and objections decide what is transferred
        "import",  # customer data entering the vault
        "org.create",
        "person.create",
        "rejects.read",  # rejected rows hold personal values
        "shred",
        "store.init",
        "store.operator",  # the store's first operator
        "store.role_grant",  # store-wide roles: operators, training administrators
        "store.role_revoke",
        "identity",  # someone not registered tried to act
        "auth.lockout",  # an account or address locked after repeated failures
        "auth.password_reset",  # every session of the account ends
        "auth.token_create",  # a new credential for scripts
        "auth.token_revoke",
        "auth.session_revoke",
        "auth.sessions_revoke_all",  # sign out everywhere
        "token.resolve",  # re-identifies a pseudonym
        "trace",  # canary tracing of a leaked file
        "alert.ack",  # a security alert marked as handled
        "monitor.run",  # a monitoring run that raised or updated alerts (docs/monitoring.md)
        "monitor.rules_set",  # the monitoring rules changed
        "canary.hit",  # a canary customer's contact point used outside: a leak
        # incidents (docs/monitoring.md "Incidents"): opened, staffed, noted, closed, and the
        # list of the customers a leak reached taken out
        "incident.open",
        "incident.assign",
        "incident.note",
        "incident.close",
        "incident.impact",
        "incident.task.add",
        "incident.task.done",
        # drills (a drill deal of invented customers; each step is its own use case) and the
        # compliance gate's checks and counsel's waivers
        "drill.run",
        "drill.finish",
        "compliance.check",
        "compliance.waive",
        # customers' consents imported from the seller's systems
        "consent.import",
        "compliance.pia",  # an impact assessment generated
        "compliance.pia_sign",  # and signed off
        "compliance.review",  # a plan's notes decrypted and scanned (counts only)
        # retention rules set or reviewed, and the scheduled run that destroys at their end
        "retention.set",
        "retention.review",
        "retention.run",
        # legal clocks and notices: awareness time, regimes, notices drafted, finalised, sent,
        # delivered in bulk, delivery status imported, partner notices and acknowledgements
        "incident.aware",
        "incident.regimes",
        "incident.clocks_set",
        "incident.notice_draft",
        "incident.notice_finalise",
        "incident.notice_sent",
        "incident.notice_customers",
        "incident.notice_status",
        "incident.partner_notice",
        "incident.partner_ack",
    }
)
"""Further security-relevant actions, by exact name."""

ROUTINE_ACTIONS: Final = frozenset(
    {
        "audit.checkpoint",  # signs a checkpoint itself
        "audit.cosign",
        "audit.export",  # signs a checkpoint itself
        "audit.prove",
        "audit.report",
        "audit.report.start",
        "audit.log",  # reading the log
        "audit.verify",
        "import.preview",  # a dry run: nothing written
        "inventory",  # metadata only
        "keys.audit_key_show",  # the log key's public half, read
        # reads of the registries (no change to anchor): deals, requests, agreements, policy,
        # plans, packages, certificates, backups, training
        "deal.show",
        "deal.list",
        "deal.enter",  # a member's look at a deal's door (its agreements awaiting, training)
        "account.profile",  # one's own name, organisation, language, read
        "access.list",
        "access.show",
        "access.level",  # one's own standing on a dataset (levels, grants), read
        "agreement.list",
        "agreement.show",
        "agreement.pending",  # a party's own click-through agreements, listed
        "policy.show",
        "policy.history",
        "policy.check",
        "transfer.plan.show",
        "transfer.plan.list",
        "package.ledger",
        "package.inbox",
        "package.reviews",
        "certificate.list",
        "backup.list",
        "training.list",
        "keys.status",  # key versions and counts, read
        "org.list",  # the registry of organisations and people, read
        "org.show",
        "person.list",
        "person.show",
        "store.show",
        # sign-in steps: frequent; each failure is counted and a lockout is anchored
        "auth.password",
        "auth.second_factor",
        "auth.locked",  # a refusal while locked (the lock itself is anchored)
        "auth.logout",
        "auth.sessions",
        "auth.tokens",
        "auth.reset_request",
        # the monitor's registers, read
        "alert.list",
        "alert.show",
        "monitor.rules_show",
        "monitor.status",
        "incident.list",
        "incident.show",
        "incident.timeline",
        "incident.task.list",
        "incident.report",
        "drill.list",
        "drill.show",
        "compliance.findings",
        "compliance.report",
        "consent.summary",
        "compliance.pia_list",
        "compliance.pia_show",
        "compliance.pia_export",  # the assessment written as a document (counts only)
        "retention.list",
        "retention.due",
        "incident.clocks",
        "incident.notice_list",
        "incident.notice_show",
    }
)
"""Actions that are not anchored one by one (periodic checkpoints cover them)."""

RECORD_LEVELS: Final = frozenset({"anonymized", "pseudonymized", "masked", "full"})
"""Disclosure levels that release customer records (DESIGN §2); ``metadata`` and
``aggregate`` disclosures are routine."""


def classify(action: str, objects: Mapping[str, object] | None = None) -> str:
    """``security``, ``routine`` or ``unclassified`` (an action named in neither list).

    A ``disclose`` is security-relevant when it releases records (a level in
    :data:`RECORD_LEVELS`, or no level given), routine for metadata and aggregates.
    """
    if action == "disclose":
        level = (objects or {}).get("level")
        return "security" if level is None or level in RECORD_LEVELS else "routine"
    if action in ROUTINE_ACTIONS:  # named reads win over their prefix (keys.status)
        return "routine"
    if action in SECURITY_ACTIONS or action.startswith(SECURITY_PREFIXES):
        return "security"
    return "unclassified"


def is_security_relevant(action: str, objects: Mapping[str, object] | None = None) -> bool:
    """Must a checkpoint be signed right after this event? Unclassified actions are anchored
    too (fail-safe): a new kind of event is treated as security-relevant until it is listed."""
    return classify(action, objects) != "routine"
