"""The compliance gate on the web: counsel checks a plan, sees each finding with its legal
source, waives one with a reason (a short reason refused with its message), signs the impact
assessment off and downloads the report; a bidder is refused; no customer value on the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import compliance_pia
from dealvault.flows.context import AppStores
from tests.api.conftest import ANALYST, Mailbox, serve
from tests.conftest import P, World
from tests.transfer.test_plans import OFFICER, identity, make_plan, prepare
from tests.vault.helpers import customer_row
from tests.web.audit_setup import counsel, member

TRANSFER = "/deals/clean-2026/transfer"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_counsel_works_the_gate_on_its_page(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepare(stores, keyring, world, tmp_path, customers_n=3)
    plan = make_plan(stores, world, str(identity().to_public())).id
    pia = compliance_pia.generate(stores, keyring, actor=P(OFFICER), plan_id=plan).id
    server = serve(stores, keyring, world, tmp_path, mailbox, monkeypatch)
    me = counsel(server)
    url = f"{TRANSFER}/plans/{plan}/compliance"
    assert 'data-testid="compliance-link"' in me.http.get(f"{TRANSFER}/plans/{plan}").text
    first = me.http.get(url)
    assert first.status_code == 200, first.text
    assert "The plan has not been checked yet." in first.text
    checked = me.submit(url, f"{url}/check", {})
    assert checked.status_code == 200 and "Gate closed" in checked.text
    assert "PIPL art. 22" in checked.text and "pipl22-notice" in checked.text
    assert not any(customer_row(i)["手机号"] in checked.text for i in range(1, 4))
    # a waiver of two words is refused with the flow's reason, on the same page
    finding = checked.text.split('data-testid="waive-form-')[1].split('"')[0]
    short = me.submit(url, f"{url}/findings/{finding}/waive", {"reason": "fine"})
    assert short.status_code == 400 and "written reason" in short.text
    done = me.submit(url, f"{url}/findings/{finding}/waive",
                     {"reason": "the customers were told by letter, file 2026-88"})  # fmt: skip
    assert done.status_code == 200 and "Waived by" in done.text
    # counsel signs the assessment off
    signed = me.submit(url, f"{url}/pias/{pia}/sign", {"role": "counsel", "note": "read"})
    assert signed.status_code == 200 and 'data-testid="sign-counsel"' not in signed.text
    report = me.http.get(f"{url}/report.html")
    assert report.status_code == 200 and "Compliance report" in report.text
    assert me.http.get(f"{url}/pias/{pia}.pdf").content.startswith(b"%PDF")
    # a bidder's analyst: refused
    analyst = member(server, ANALYST, role="bidder_business", org="Bidder A", name="Analyst")
    assert analyst.http.get(url).status_code == 403
