"""The steward's reject CSV (``dealvault rejects --out``): private and inert in a spreadsheet."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest

from dealvault import sheets
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import customers
from dealvault.flows.context import AppStores
from dealvault.vault.rejects import write_rejects_csv
from tests.conftest import P, World
from tests.vault.helpers import HEADERS, customer_row, do_import, write_csv

EVIL_HEADER = '=HYPERLINK("http://evil.invalid","x")'


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_reject_csv_is_private_and_neutralised(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    headers = [EVIL_HEADER if h == "手机号" else h for h in HEADERS]
    rows = []
    for i in range(1, 7):
        row = customer_row(i)
        phone = row.pop("手机号")
        row[EVIL_HEADER] = phone if i % 2 else "-1+2"  # not a phone number: rejected
        rows.append(row)
    path = write_csv(tmp_path / "crm.csv", rows, headers=headers)
    summary = do_import(
        stores, keyring, path, actor=P(world.steward), deal=world.deal,
        rejects_dir=tmp_path / "rejects", overrides={EVIL_HEADER: "phone"},
    )  # fmt: skip
    assert summary.rows_rejected == 3
    frame = customers.read_import_rejects(
        stores, keyring, actor=P(world.steward), deal=world.deal, import_id=summary.import_id
    )
    assert EVIL_HEADER in frame["column"].to_list()  # the attack reaches the writer

    out = tmp_path / "rejects.csv"
    write_rejects_csv(frame, path=out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(encoding="utf-8", newline="") as fh:
        header, *body = list(csv.reader(fh))
    assert header == ["row", "column", "reason", "values"]
    cells = [c for row in body for c in row]
    assert not [c for c in cells if sheets.is_unsafe(c)]
    assert {r[1] for r in body} == {sheets.QUOTE + EVIL_HEADER}
    # the original values are still there, as JSON, for the steward to fix the source
    assert {json.loads(r[3])[EVIL_HEADER] for r in body} == {"-1+2"}
