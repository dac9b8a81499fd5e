"""The marketing restriction carried to the buyer and enforced there: the seller's package
carries each customer's marketing consent; in the buyer's store a copy made for marketing
keeps only the customers who consented (the others counted, never shown); a dataset without
the column permits nobody, and the refusal is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.deidentify.levels import Level
from dealvault.errors import Forbidden
from dealvault.flows import disclosure, receiving
from dealvault.flows import packages as pkg_flows
from dealvault.flows.consent import import_consents
from dealvault.flows.context import AppStores
from dealvault.flows.release import DisclosureRequest
from tests.compliance.test_consent import _file
from tests.conftest import STEWARD, P, World
from tests.transfer.test_package import BUYER_DEAL, BUYER_IT, buyer, buyer_steward
from tests.transfer.test_plans import approved_plan, prepare

__all__ = ["buyer"]  # the fixture, used below


def _ask(use: str | None) -> DisclosureRequest:
    return DisclosureRequest(actor=P(BUYER_IT), deal=BUYER_DEAL, dataset="acquired",
                             level=Level.FULL, purpose="spring campaign", use=use)  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_buyer_markets_only_to_customers_who_consented(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path, buyer: AppStores
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=5)
    body = (
        "C000001,marketing,2026-01-02,web form,no,,\nC000002,marketing,2026-01-02,web form,no,,\n"
    )
    import_consents(stores, keyring, actor=P(STEWARD), deal=world.deal, dataset="crm",
                    path=_file(tmp_path, body))  # fmt: skip
    ident = pyrage.x25519.Identity.generate()
    plan = approved_plan(stores, world, str(ident.to_public()), categories=["identity", "contact"])
    pkg = tmp_path / "pkg"
    pkg_flows.build_package(stores, keyring, actor=P(world.steward), plan_id=plan.id, out=pkg)
    assert stores.audit.signer is not None
    bkeys = buyer_steward(buyer)
    got = receiving.receive(
        buyer, bkeys, actor=P(BUYER_IT), deal=BUYER_DEAL, dataset="acquired", package=pkg,
        identities=[ident], verifier_key=stores.audit.signer.verifier().key_string(),
        rejects_dir=tmp_path / "rejects", canaries=Path(f"{pkg}.canaries"), work_dir=tmp_path,
    )  # fmt: skip
    assert got.imported.rows_imported == 5
    everyone = disclosure.disclose(buyer, bkeys, request=_ask(None)).frame
    assert everyone.height == 5
    marketing = disclosure.disclose(buyer, bkeys, request=_ask("marketing"))
    assert sorted(marketing.frame.get_column("customer_key").to_list()) == ["C000001", "C000002"]
    assert marketing.meta["report"]["use_not_permitted"] == 3
    with buyer.records_session() as s:
        last = json.loads(
            s.scalars(select(AuditEvent.body).order_by(AuditEvent.seq.desc())).first() or "{}"
        )
    assert last["objects"]["use"] == "marketing" and last["counts"]["use_not_permitted"] == 3


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dataset_without_consents_permits_no_marketing(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=2)
    ask = DisclosureRequest(actor=P(STEWARD), deal=world.deal, dataset="crm", level=Level.FULL,
                            purpose="spring campaign", use="marketing")  # fmt: skip
    with pytest.raises(Forbidden, match="no per-customer marketing consent"):
        disclosure.disclose(stores, keyring, request=ask)
    with stores.records_session() as s:
        last = json.loads(
            s.scalars(select(AuditEvent.body).order_by(AuditEvent.seq.desc())).first() or "{}"
        )
    assert last["decision"] == "deny" and last["objects"]["use"] == "marketing"
