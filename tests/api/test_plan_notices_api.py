"""A transfer plan's PIPL art. 22 notices over HTTP: counsel reads the batches and the
customers per reason; a bidder's analyst is refused; no address or message in the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import plan_notices
from dealvault.flows import transfer as flows
from dealvault.flows.context import AppStores
from tests.api.conftest import ANALYST, Mailbox, member, serve
from tests.conftest import STEWARD, P, World
from tests.transfer.test_plans import BUYER, CATS, identity, prepare
from tests.vault.helpers import customer_row


@pytest.mark.parametrize("backend", ["sqlite"])
def test_counsel_reads_a_plans_notices_a_bidder_does_not(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=3)
    plan = flows.create_plan(
        stores, actor=P(STEWARD), deal=world.deal, dataset="crm", recipient=BUYER,
        recipients=[str(identity().to_public())], categories=CATS,
        purpose="hand-over of the customer base at closing",
        recipient_contact="Bidder A Ltd, 1 Test Road, Beijing",
    ).id  # fmt: skip
    plan_notices.notify(stores, keyring, actor=P(STEWARD), plan_id=plan, channel="sms",
                        out=tmp_path / "sms.csv", contact="service desk")  # fmt: skip
    server = serve(stores, keyring, world, tmp_path, mailbox, monkeypatch)
    counsel = member(server, "counsel2@law.example", role="counsel", org="Law LLP")
    r = counsel.http.get(f"/api/plans/{plan}/notices")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"]["notified"] == 3 and body["counts"]["pending"] == 3
    assert [b["counts"] for b in body["batches"]] == [{"pending": 3}]
    assert not any(customer_row(i)["手机号"] in r.text for i in range(1, 4))
    assert counsel.http.get("/api/plans/999/notices").status_code == 404
    analyst = member(server, ANALYST, role="bidder_business", org="Bidder A")
    assert analyst.http.get(f"/api/plans/{plan}/notices").status_code == 403
