"""Invented test data and shortcuts for vault tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dealvault.access.principal import Principal
from dealvault.audit.models import AuditEvent
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import customers
from dealvault.flows.context import AppStores
from dealvault.flows.importing import ImportRequest, ImportSummary, import_source
from dealvault.ingest.readers import SourceSpec
from dealvault.synth.idnumbers import ric_check_digit
from dealvault.vault.read import CustomerView
from tests.conftest import P, World

HEADERS = [
    "客户编号",
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "手机号",
    "邮箱",
    "地址",
    "银行卡号",
    "偏好产品",
]


def ric(region: str = "110105", birth: str = "19850312", seq: str = "123") -> str:
    first = region + birth + seq
    return first + ric_check_digit(first)


def customer_row(i: int, **over: str) -> dict[str, str]:
    row = {
        "客户编号": f"C{i:06d}",
        "姓名": "测试" + "甲乙丙丁戊己庚辛壬癸"[i % 10],
        "性别": "男" if i % 2 else "女",
        "出生日期": "1985-03-12",
        "身份证号": ric(seq=f"{i % 1000:03d}"),
        "手机号": f"139{i:08d}",
        "邮箱": f"user{i}@example.com",
        "地址": "北京市朝阳区测试路1号",
        "银行卡号": "",
        "偏好产品": "洗衣液",
    }
    row.update(over)
    return row


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    encoding: str = "utf-8",
    headers: list[str] | None = None,
) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=headers or HEADERS)
        w.writeheader()
        w.writerows(rows)
    return path


def do_import(
    stores: AppStores,
    keyring: KeyRing,
    path: Path,
    *,
    actor: Principal,
    deal: str,
    rejects_dir: Path,
    dataset: str = "crm",
    **kw: object,
) -> ImportSummary:
    req = ImportRequest(actor=actor, deal=deal, dataset=dataset, spec=SourceSpec(path=path), **kw)  # type: ignore[arg-type]
    return import_source(stores, keyring, request=req, rejects_dir=rejects_dir)


def lookup(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    value: str,
    *,
    by: str = "phone",
    categories: list[str] | None = None,
) -> list[CustomerView]:
    """The steward's look-up in dataset 'crm' through the one read path."""
    return customers.lookup(
        stores,
        keyring,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        by=by,
        value=value,
        categories=categories,
        purpose="test",
    )


def last_event(stores: AppStores, *, action: str | None = None) -> dict[str, Any]:
    """The body of the newest audit event (of ``action``, when given)."""
    q = select(AuditEvent.body).order_by(AuditEvent.seq.desc()).limit(1)
    if action is not None:
        q = q.where(AuditEvent.action == action)
    with stores.records_session() as s:
        body = s.scalar(q)
    assert body is not None, f"no audit event {action or ''}"
    out: dict[str, Any] = json.loads(body)
    return out
