"""Security-relevant events are anchored by a checkpoint signed in their own transaction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealvault.audit.anchoring import classify, is_security_relevant
from dealvault.audit.models import AuditCheckpoint
from dealvault.audit.note import Signer, Verifier, generate_signer
from dealvault.audit.service import AuditConfig, EventIn, record, record_many, tree_size
from dealvault.audit.store import LogFilter
from dealvault.errors import KeyUnavailable
from dealvault.flows import admin, auditing
from dealvault.flows.context import AppStores
from tests.audit import tamper
from tests.audit.conftest import register, routine
from tests.conftest import OP, P, World

SRC = Path(__file__).resolve().parents[2] / "src" / "dealvault"


def _actions_in_source() -> set[str]:
    """Every literal event action in the code: EventIn(action=...), ``action = ...`` and the
    first argument of packages' ``_event(...)``."""
    found: set[str] = set()

    def literals(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return literals(node.body) + literals(node.orelse)
        return []

    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ("EventIn", "replace"):  # replace(event, action=...) too
                    for kw in node.keywords:
                        if kw.arg == "action":
                            found.update(literals(kw.value))
                elif name == "_event" and node.args:
                    found.update(literals(node.args[0]))
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "action" for t in node.targets
            ):
                found.update(literals(node.value))
    return found


def test_every_action_in_the_code_is_classified() -> None:
    actions = _actions_in_source()
    assert {"deal.freeze", "shred", "package.verify", "audit.report"} <= actions
    unclassified = sorted(a for a in actions if classify(a) == "unclassified")
    assert unclassified == [], "add them to audit.anchoring (security or routine)"


def test_classification() -> None:
    for action in ("deal.freeze", "deal.add_member", "policy.change", "access.grant", "shred",
                   "keys.rotate_master", "package.build", "certificate.issue", "backup.restore",
                   "transfer.plan.approve", "store.init"):  # fmt: skip
        assert classify(action) == "security", action
    assert classify("disclose", {"level": "full"}) == "security"
    assert classify("disclose", {"level": "masked"}) == "security"
    assert classify("disclose", {"level": "aggregate"}) == "routine"
    assert classify("disclose", {"level": "metadata"}) == "routine"
    assert classify("audit.report") == "routine" and classify("inventory") == "routine"
    assert classify("something.new") == "unclassified"
    assert is_security_relevant("something.new")  # fail-safe: anchored until listed


def _sizes(stores: AppStores) -> list[int]:
    with stores.records_session() as s:
        return list(s.scalars(select(AuditCheckpoint.size).order_by(AuditCheckpoint.id)))


def test_each_security_event_is_followed_by_its_checkpoint(stores: AppStores, busy: World) -> None:
    routine(stores, 3)
    admin.set_frozen(stores, code=busy.deal, frozen=True, actor=P(busy.steward), reason="leak")
    routine(stores, 2)
    events = auditing.log(stores, actor=OP, flt=LogFilter(limit=10**6))
    sizes = set(_sizes(stores))
    for e in events:
        anchored = e["seq"] + 1 in sizes
        assert anchored == is_security_relevant(e["action"], e["objects"]), e["action"]
    assert max(sizes) == len(events) - 2


def test_a_batch_is_anchored_once_after_its_last_security_event(
    stores: AppStores, world: World
) -> None:
    register(stores)
    before = len(_sizes(stores))
    with stores.unit_of_work() as uow:
        seqs = record_many(
            uow.records,
            stores.audit,
            [EventIn(action="shred"), EventIn(action="inventory"), EventIn(action="shred")],
        )
    assert _sizes(stores)[before:] == [seqs[-1] + 1]


class _LockedSource:
    """A key store whose master key is not at hand."""

    def __init__(self, signer: Signer) -> None:
        self._v = signer.verifier()

    def verifier(self) -> Verifier | None:
        return self._v

    def load(self) -> Signer:
        raise KeyUnavailable("no passphrase: set DEALVAULT_PASSPHRASE")


def test_without_the_master_key_a_change_fails_but_a_denial_is_kept(
    stores: AppStores, audit_config: AuditConfig, world: World
) -> None:
    register(stores)
    assert audit_config.signer is not None
    stores.audit = AuditConfig(checkpoint_every=2, source=_LockedSource(audit_config.signer))
    with stores.records_session() as s:
        n, cps = tree_size(s), s.scalar(select(func.count()).select_from(AuditCheckpoint))
    with pytest.raises(KeyUnavailable), stores.unit_of_work() as uow:
        record(uow.records, stores.audit, EventIn(action="deal.freeze", decision="allow"))
    with stores.unit_of_work() as uow:  # a denial is recorded even so
        record(uow.records, stores.audit, EventIn(action="deal.freeze", decision="deny"))
    routine(stores, 4)  # crosses the cadence: no prompt for a routine checkpoint
    with stores.records_session() as s:
        assert tree_size(s) == n + 5
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == cps
    assert auditing.verify(stores, actor=OP).ok  # a denial in the tail is not held to the rule


def test_the_cadence_signs_when_the_key_is_at_hand(stores: AppStores, world: World) -> None:
    register(stores)
    start = tamper.size(stores)
    stores.audit.checkpoint_every = 5
    try:
        routine(stores, 5 - start % 5)
    finally:
        stores.audit.checkpoint_every = 50
    assert _sizes(stores)[-1] % 5 == 0 and _sizes(stores)[-1] > start


def test_a_store_without_a_log_key_records_without_checkpoints(stores: AppStores) -> None:
    stores.audit = AuditConfig()
    with stores.unit_of_work() as uow:
        record(uow.records, stores.audit, EventIn(action="shred"))
    assert _sizes(stores) == []
    assert not AuditConfig().can_sign and AuditConfig().origin == "dealvault/unsigned"
    signer = Signer.from_key(generate_signer("x.invalid/log")[0])
    assert AuditConfig(signer=signer).origin == "x.invalid/log"
