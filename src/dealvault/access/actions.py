"""The closed catalogue of actions every use case is decided under, and the store-wide roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StoreRole(StrEnum):
    """Roles held in the store as a whole, not in one deal (granted by an operator)."""

    OPERATOR = "operator"  # runs the store: holds the master key, store-wide operations
    TRAINING_ADMIN = "training_admin"  # records confidentiality training of other people
    #: the seller's SMS/e-mail gateway: reports that a canary's contact point was used outside
    CANARY_GATEWAY = "canary_gateway"


class Scope(StrEnum):
    STORE = "store"  # the whole store: decided on store roles, the shipped policy
    DEAL = "deal"  # one deal: decided on member (and store) roles, that deal's policy, its stage


@dataclass(frozen=True)
class ActionDef:
    """One action: its scope, whether it grants something to a person (so it may never
    target the actor), and a line of help shown by ``policy show`` and in docs/policy.md."""

    name: str
    scope: Scope
    help: str
    grants: bool = False


def _a(name: str, scope: Scope, help: str, grants: bool = False) -> ActionDef:
    return ActionDef(name=name, scope=scope, help=help, grants=grants)


_S, _D = Scope.STORE, Scope.DEAL

#: Every action but ``read`` and ``audit_log`` (decided on the ceiling and [audit_log]).
CATALOGUE: dict[str, ActionDef] = {
    a.name: a
    for a in (
        # -- the store as a whole --------------------------------------------------------
        _a("store.show", _S, "see the store's locations, operators and trial flag"),
        _a("store_role.grant", _S, "grant a store role (operator, training admin)", True),
        _a("store_role.revoke", _S, "revoke a store role"),
        _a("org.create", _S, "register an organisation"),
        _a("org.read", _S, "list and show organisations"),
        _a("person.create", _S, "register a person (an account)"),
        _a("person.read", _S, "list and show people"),
        _a("deal.create", _S, "open a deal and name its first stewards", True),
        _a("training.record", _S, "record another person's confidentiality training", True),
        _a("training.read", _S, "list training records"),
        _a("keys.status", _S, "see the key hierarchy of every dataset"),
        _a("keys.rotate_master", _S, "rotate the master key (rewraps every dataset key)"),
        _a("backup.store", _S, "back up the whole store (every deal)"),
        _a("backup.restore", _S, "restore a backup into an empty store"),
        _a("backup.read", _S, "list and verify backups"),
        _a("audit.verify", _S, "verify the whole audit log"),
        _a("audit.export", _S, "export the whole audit log as an offline bundle"),
        _a("audit.prove", _S, "write an inclusion proof for one event"),
        _a("audit.checkpoint", _S, "sign a checkpoint now"),
        _a("audit.cosign", _S, "add a witness cosignature to a checkpoint"),
        _a("audit.search", _S, "search the audit log across every deal"),
        _a("package.verify", _S, "check a received transfer package"),
        _a("monitor.run", _S, "evaluate the monitoring rules over the audit log"),
        _a("monitor.read", _S, "show the monitoring rules, their versions and progress"),
        _a("monitor.configure", _S, "store a new version of the monitoring rules"),
        _a("monitor.freeze", _S, "freeze a deal on a critical alert whose rule says so"),
        _a("canary.hit", _S, "report a canary customer's phone or e-mail used outside"),
        _a("drill.run", _S, "run an incident drill on a drill deal of invented customers"),
        _a("drill.read", _S, "list and show incident drills and their reports"),
        _a("store_alert.read", _S, "list and show the store's own alerts (audit log, keys)"),
        _a("store_alert.ack", _S, "acknowledge a store alert"),
        # -- one deal --------------------------------------------------------------------
        _a("deal.read", _D, "see a deal: stage, parties, members, history"),
        _a("deal.advance", _D, "move the deal to its next stage"),
        _a("deal.winner", _D, "name the winning bidder"),
        _a("deal.terminate", _D, "end the deal (irreversible)"),
        _a("deal.freeze", _D, "isolate the deal: every access stops"),
        _a("deal.unfreeze", _D, "lift the isolation"),
        _a("party.add", _D, "add an organisation to the deal"),
        _a("member.add", _D, "give a person a role in the deal", True),
        _a("account.invite", _D, "invite a person to sign in with a role in the deal", True),
        _a("account.disable", _D, "disable a deal member's sign-in (every session ends)"),
        _a("account.enable", _D, "enable a deal member's sign-in again"),
        _a("account.read", _D, "see the sign-in state of the deal's members"),
        _a("agreement.add", _D, "register a signed agreement", True),
        _a("agreement.revoke", _D, "revoke an agreement"),
        _a("agreement.read", _D, "list and show agreements, export their documents"),
        _a(
            "agreement.review",
            _D,
            "list one's organisation's click-through agreements, download their documents",
        ),
        _a("agreement.accept", _D, "accept one's organisation's click-through agreement online"),
        _a("policy.set", _D, "store a tighter policy version for the deal"),
        _a("policy.read", _D, "show the deal's policy, its history and checks"),
        _a("access.request", _D, "ask for access above aggregate"),
        _a("access.approve", _D, "approve another person's access request", True),
        _a("access.deny", _D, "deny an access request"),
        _a("access.revoke", _D, "revoke a grant at once"),
        _a("access.read", _D, "list and show access requests and grants"),
        _a("dataset.import", _D, "import customer data into the deal's vault"),
        _a("dataset.override", _D, "override a column's classification"),
        _a("customer.status", _D, "record an opt-out or objection"),
        _a("customer.shred", _D, "crypto-shred a customer or a dataset"),
        _a("keys.rotate_data", _D, "rotate a dataset's data key (re-encrypts)"),
        _a("token.resolve", _D, "map a recipient's token back to a customer"),
        _a("plan.create", _D, "propose a transfer plan"),
        _a("plan.approve", _D, "approve another person's transfer plan", True),
        _a("plan.deny", _D, "deny a transfer plan"),
        _a("plan.read", _D, "list and show transfer plans"),
        _a("plan.notify", _D, "send a plan's PIPL art. 22 notices and import their status"),
        _a("plan.mechanism", _D, "record a plan's cross-border transfer mechanism"),
        _a("compliance.check", _D, "check a transfer plan against the compliance rules"),
        _a("compliance.read", _D, "list a transfer plan's compliance findings"),
        _a("compliance.waive", _D, "waive a compliance finding with a written reason"),
        _a("consent.import", _D, "import the seller's consent records of a dataset"),
        _a("consent.read", _D, "see the consents held per purpose"),
        _a("compliance.pia", _D, "generate a transfer plan's impact assessment (PIPL art. 55)"),
        _a("compliance.pia_sign", _D, "sign an impact assessment off (counsel, security officer)"),
        _a("compliance.review", _D, "review the free text a transfer plan hands over (counts)"),
        _a("retention.set", _D, "set how long a dataset or one of its categories is kept"),
        _a("retention.read", _D, "list retention rules and what is due (reviews, destructions)"),
        _a("retention.review", _D, "record a periodic review of a retention rule"),
        _a("retention.run", _D, "destroy what reached the end of its retention, certified"),
        _a("package.build", _D, "build the transfer package of an approved plan"),
        _a("package.canaries", _D, "write a package's canary list again"),
        _a("package.review", _D, "review the buyer's reconciliation report"),
        _a("package.read", _D, "see the package ledger"),
        _a("package.inbox", _D, "list the transfer packages addressed to one's organisation"),
        _a("package.fetch", _D, "download a transfer package addressed to one's organisation"),
        _a("certificate.issue", _D, "destroy the seller's copy and sign a certificate"),
        _a("certificate.attest", _D, "certify that a recipient returned or deleted its copy"),
        _a("certificate.read", _D, "list and verify destruction certificates"),
        _a("trace", _D, "find whose copy a leaked file is"),
        _a("alert.read", _D, "list and show the deal's security alerts"),
        _a("alert.ack", _D, "acknowledge a security alert of the deal"),
        _a("incident.open", _D, "open a security incident of the deal (by hand or from alerts)"),
        _a("incident.read", _D, "list and show the deal's incidents, timelines and impact"),
        _a("incident.assign", _D, "put a member of the deal on an incident's team"),
        _a("incident.note", _D, "add a note to an incident"),
        _a("incident.close", _D, "close an incident with its resolution"),
        _a("incident.task.add", _D, "give an incident a task with an owner and a due time"),
        _a("incident.task.done", _D, "mark an incident's task as done"),
        _a("incident.clock", _D, "set an incident's awareness time and legal regimes"),
        _a("incident.notice", _D, "draft, finalise, send and deliver an incident's notices"),
        _a("incident.partner_ack", _D, "acknowledge an incident notice for one's organisation"),
        _a("audit_log.prove", _D, "write an inclusion proof for one event of the deal"),
        _a("audit_log.export", _D, "export the deal's audit events as an offline bundle"),
    )
}

#: What a frozen deal still allows unless the policy's [frozen] says less.
FROZEN_ALWAYS = ("deal.unfreeze",)


def action_def(name: str) -> ActionDef:
    """The catalogue entry of ``name`` (KeyError on an unknown action: a programming error)."""
    return CATALOGUE[name]
