"""Column mapping: proposal from synonyms, role inference, files and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealvault.errors import InputError
from dealvault.ingest.fields import TableRole
from dealvault.ingest.mapping import (
    apply_overrides,
    check_mapping,
    load_mapping,
    parse_map_flags,
    propose_mapping,
)


def test_chinese_headers() -> None:
    m = propose_mapping(
        columns=["客户编号", "姓名", "手机号码", "身份证号", "内部备注", "金额(元)"]
    )
    assert m.columns == {
        "客户编号": "customer_key",
        "姓名": "name",
        "手机号码": "phone",
        "身份证号": "id_number",
        "内部备注": None,
        "金额(元)": "amount",
    }
    assert m.table_role is TableRole.ORDERS


def test_english_and_pinyin_headers() -> None:
    m = propose_mapping(columns=["Customer ID", "Full_Name", "E-Mail", "Mobile", "DOB"])
    assert list(m.columns.values()) == ["customer_key", "name", "email", "phone", "birth_date"]
    assert m.table_role is TableRole.CUSTOMERS
    p = propose_mapping(columns=["XM", "SJH", "SFZH", "yhkh"])
    assert list(p.columns.values()) == ["name", "phone", "id_number", "bank_card"]


def test_role_inference_and_explicit_role() -> None:
    assert propose_mapping(columns=["会员号", "备注"]).table_role is TableRole.NOTES
    assert propose_mapping(columns=["会员号", "下单时间"]).table_role is TableRole.ORDERS
    m = propose_mapping(columns=["姓名"], table_role=TableRole.NOTES)
    assert m.table_role is TableRole.NOTES
    with pytest.raises(InputError, match="customer_key"):
        check_mapping(mapping=m)


def test_second_column_for_same_field_is_left_unmapped() -> None:
    m = propose_mapping(columns=["手机", "电话"])
    assert m.columns == {"手机": "phone", "电话": None}


def test_overrides() -> None:
    m = propose_mapping(columns=["手机号", "内部备注", "编号"])
    m2 = apply_overrides(mapping=m, overrides={"内部备注": "note", "编号": "customer_key"})
    assert m2.columns["内部备注"] == "note" and m2.columns["编号"] == "customer_key"
    m3 = apply_overrides(mapping=m2, overrides={"手机号": None})
    assert m3.columns["手机号"] is None
    with pytest.raises(InputError, match="unknown field") as ei:
        apply_overrides(mapping=m, overrides={"手机号": "mobile_phone"})
    assert ei.value.column == "手机号"
    with pytest.raises(InputError, match="does not have") as ei:
        apply_overrides(mapping=m, overrides={"不存在": "name"})
    assert ei.value.column == "不存在"
    with pytest.raises(InputError, match="both mapped"):
        apply_overrides(mapping=m, overrides={"内部备注": "phone"})


def test_override_may_change_inferred_role() -> None:
    m = propose_mapping(columns=["客户编号", "时间"])
    assert m.table_role is TableRole.CUSTOMERS
    m2 = apply_overrides(mapping=m, overrides={"时间": "order_time"})
    assert m2.table_role is TableRole.ORDERS


def test_load_mapping_json_and_toml(tmp_path: Path) -> None:
    j = tmp_path / "m.json"
    j.write_text('{"手机号": "phone", "内部备注": null}', encoding="utf-8")
    assert load_mapping(path=j) == {"手机号": "phone", "内部备注": None}
    t = tmp_path / "m.toml"
    t.write_text('[columns]\n"手机号" = "phone"\n"内部备注" = ""\n', encoding="utf-8")
    assert load_mapping(path=t) == {"手机号": "phone", "内部备注": None}
    bad = tmp_path / "b.json"
    bad.write_text("{nope", encoding="utf-8")
    with pytest.raises(InputError, match="not valid"):
        load_mapping(path=bad)


def test_map_flags() -> None:
    assert parse_map_flags(flags=["列=phone", "备注=", "x=-"]) == {
        "列": "phone",
        "备注": None,
        "x": None,
    }
    with pytest.raises(InputError):
        parse_map_flags(flags=["novalue"])
