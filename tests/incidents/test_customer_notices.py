"""Per-customer notices in bulk: each affected customer's message rendered from the template
set with their contact point from the vault (English for foreign customers), the delivery file
(mode 0600), and the gateway's status file imported back with every row checked."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.db.base import utcnow
from dealvault.errors import Conflict, Forbidden, InputError, NotFound
from dealvault.flows import incident_notices as notices
from dealvault.flows import incidents
from dealvault.flows.context import AppStores
from dealvault.notices import render
from dealvault.notices import service as bulk
from dealvault.notices.models import NoticeBatchCount
from tests.conftest import P
from tests.incidents.conftest import COUNSEL, ROWS, SECURITY, Scene, release
from tests.incidents.test_legal_notices import ANSWERS


def test_render_is_one_pass_per_language() -> None:
    tset = render.template_set("incident")
    people = pl.DataFrame(
        {"subject_id": ["a", "b", "c"], "name": ["张三", "Ann", None],
         "phone": ["+8613900000001", "+447700900001", None],
         "email": ["z@example.com", None, None], "address": [None, None, "x"]},
        schema=render.CONTACTS,
    )  # fmt: skip
    out = render.render(people, tset=tset, channel="sms",
                        context={"zh": ANSWERS, "en": ANSWERS})  # fmt: skip
    assert out.get_column("language").to_list() == ["zh", "zh", "en"]
    by = {r["subject_id"]: r for r in out.iter_rows(named=True)}
    assert by["a"]["message"].startswith("【洁净日化有限公司】张三您好")
    assert by["b"]["message"].startswith("Clean Chemicals Ltd: Dear Ann,")
    assert by["c"]["address"] is None
    mail = render.render(people, tset=tset, channel="email", context={"zh": {**ANSWERS,
                         "categories": "联系方式"}, "en": ANSWERS})  # fmt: skip
    assert mail.filter(pl.col("subject_id") == "a").get_column("subject")[0].startswith("洁净")
    with pytest.raises(Exception, match="not final"):
        render.render(people, tset=tset, channel="sms", context={"zh": ANSWERS})
    with pytest.raises(NotFound):
        render.template_set("../etc")


def test_delivery_file_and_status_import(
    stores: AppStores, keyring: KeyRing, scene: Scene, tmp_path: Path
) -> None:
    sec = P(SECURITY)
    release(stores, keyring, scene.world, "Bidder A")
    inc = incidents.open_incident(stores, actor=sec, title="t", alert_ids=[scene.alert]).id
    out = tmp_path / "sms.csv"
    with pytest.raises(Conflict, match="finalise the customers' notice"):
        notices.customer_notices(stores, keyring, actor=sec, incident_id=inc, channel="sms",
                                 out=out)  # fmt: skip
    d = notices.draft_notice(stores, actor=sec, incident_id=inc, kind="pipl-customers",
                             answers=ANSWERS)  # fmt: skip
    notices.finalise_notice(stores, actor=sec, notice_id=d.id)
    batch = notices.customer_notices(stores, keyring, actor=sec, incident_id=inc, channel="sms",
                                     out=out)  # fmt: skip
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert (batch.customers, batch.counts) == (12, {"pending": 12})
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["delivery_id", "channel", "address", "subject", "message"]
    phones = {r["手机号"] for r in ROWS}
    assert {r["address"].removeprefix("+86") for r in rows} == phones
    assert all(r["channel"] == "sms" and ANSWERS["individual_steps"] in r["message"] for r in rows)
    assert {r["message"].split("】")[1].split("您好")[0] for r in rows} == {r["姓名"] for r in ROWS}
    ids = [r["delivery_id"] for r in rows]
    assert len(set(ids)) == 12 and ids[0] == f"{batch.id}-000001"

    status = tmp_path / "status.csv"
    lines = ["delivery_id,status,at"] + [
        f"{i},{s},2026-12-07T10:00:00+08:00"
        for i, s in zip(ids, ["delivered"] * 9 + ["failed", "bounced", "unreachable"], strict=True)
    ]
    bad = tmp_path / "bad.csv"
    at = "2026-12-07T10:00:00+08:00"
    bad_rows = [
        lines[0],
        f"{ids[0]},read,{at}",  # row 2: no such status
        f"{ids[1]},delivered,yesterday",  # row 3: no time
        f"nope-1,delivered,{at}",  # row 4: fine here, unknown to the store
        f",{phones.pop()},x",  # row 5: a phone where the status goes
        f"{ids[0]},delivered,{at}",  # row 6: row 2's delivery again
    ]
    bad.write_text("\n".join(bad_rows) + "\n")
    with pytest.raises(InputError) as exc:
        notices.import_status(stores, actor=sec, incident_id=inc, path=bad)
    msg = str(exc.value)
    assert "bad.csv" in msg and "row 2, column 'status'" in msg and "row 3, column 'at'" in msg
    assert "row 5, column 'delivery_id': is empty" in msg
    assert "row 6, column 'delivery_id': is given twice" in msg
    assert not any(p in msg for p in phones | {"yesterday", "read,"})
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("delivery_id,status,at\nnope-1,delivered,2026-12-07T10:00:00Z\n")
    with pytest.raises(InputError, match=r"row 2, column 'delivery_id': is no delivery"):
        notices.import_status(stores, actor=sec, incident_id=inc, path=unknown)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("id,status,at\n")
    with pytest.raises(InputError, match=r"nohead.csv, column 'delivery_id'"):
        notices.import_status(stores, actor=sec, incident_id=inc, path=nohead)
    status.write_text("\n".join(lines) + "\n")
    [after] = notices.import_status(stores, actor=sec, incident_id=inc, path=status)
    assert after.counts == {"delivered": 9, "failed": 1, "bounced": 1, "unreachable": 1}
    with stores.records_session() as s:
        rows_ = s.execute(select(NoticeBatchCount.status, NoticeBatchCount.count)).all()
        kept = {str(k): int(n) for k, n in rows_}
    assert kept == after.counts
    assert notices.list_batches(stores, actor=sec, incident_id=inc)[0].counts == after.counts
    with pytest.raises(Forbidden):
        notices.import_status(stores, actor=P(COUNSEL), incident_id=inc, path=status)
    with stores.records_session() as s:
        wanted = ("incident.notice_customers", "incident.notice_status")
        found = s.scalars(select(AuditEvent.body).where(AuditEvent.action.in_(wanted)))
        bodies = [json.loads(b) for b in found]
    text = json.dumps(bodies, ensure_ascii=False)
    assert not any(p in text for r in ROWS for p in (r["手机号"], r["姓名"], r["邮箱"]))
    assert ANSWERS["individual_steps"] not in text
    assert bodies[0]["counts"]["customers"] == 12


def test_a_customer_without_the_channels_contact_point_is_unreachable(stores: AppStores) -> None:
    rendered = pl.DataFrame(
        {"subject_id": ["a", "b"], "language": ["zh", "zh"], "address": ["+8613900000001", None],
         "subject": [None, None], "message": ["m1", "m2"]},
    )  # fmt: skip
    with stores.unit_of_work() as uow:
        batch, rows = bulk.create_batch(uow.records, deal="d", ref="test:1", template_set="t",
                                        channel="sms", rendered=rendered, by="x@y.example",
                                        now=utcnow())  # fmt: skip
        counts = bulk.counts_of(uow.records, batch_ids=[batch.id])[batch.id]
    assert rows.get_column("delivery_id").to_list() == [f"{batch.id}-000001"]
    assert counts == {"pending": 1, "unreachable": 1}
