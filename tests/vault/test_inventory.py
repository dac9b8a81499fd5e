"""The data inventory and column overrides."""

from __future__ import annotations

from pathlib import Path

from dealvault.crypto.keyring import KeyRing
from dealvault.flows import inventory
from dealvault.flows.context import AppStores
from tests.conftest import P, World
from tests.vault.helpers import customer_row, do_import, write_csv


def test_inventory_counts_and_override_survives(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    rows = [customer_row(i, 邮箱="" if i % 2 else f"u{i}@example.com") for i in range(1, 11)]
    path = write_csv(tmp_path / "c.csv", rows)
    do_import(stores, keyring, path, actor=P(world.steward), deal=world.deal, rejects_dir=tmp_path)
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    assert inv.customers_active == 10 and inv.customers_with_sensitive == 10
    assert inv.grade == "general" and "10 people" in inv.grade_reason
    cols = {c.column: c for c in inv.columns}
    assert cols["邮箱"].fill_rate == 0.5 and cols["手机号"].distinct == 10
    assert cols["身份证号"].sensitive and cols["身份证号"].category == "sensitive"
    out = inventory.override_column(
        stores,
        actor=P(world.steward),
        deal=world.deal,
        dataset="crm",
        table="customers",
        column="偏好产品",
        pii_type="product",
        category="preference",
        sensitive=False,
    )
    assert out.override == "product"
    do_import(
        stores,
        keyring,
        path,
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
        allow_reimport=True,
    )
    again = {
        c.column: c
        for c in inventory.inventory(
            stores, actor=P(world.steward), deal=world.deal, dataset="crm"
        ).columns
    }
    assert again["偏好产品"].override == "product" and again["偏好产品"].pii_type == "product"
    assert again["手机号"].fill_rate == 1.0
    html = inventory.render_inventory_html(inv)
    assert "身份证号" in html and "13900000001" not in html and "suggested grade" in html


def test_minors_are_counted_at_import(
    stores: AppStores, keyring: KeyRing, world: World, tmp_path: Path
) -> None:
    from tests.vault.helpers import ric

    rows = [
        customer_row(1),
        customer_row(2, 身份证号=ric(birth="20200101", seq="011"), 出生日期="2020-01-01"),
    ]
    do_import(
        stores,
        keyring,
        write_csv(tmp_path / "m.csv", rows),
        actor=P(world.steward),
        deal=world.deal,
        rejects_dir=tmp_path,
    )
    inv = inventory.inventory(stores, actor=P(world.steward), deal=world.deal, dataset="crm")
    assert inv.minors_imported == 1
