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
    load_mapping_file,
    parse_map_flags,
    propose_mapping,
)
from dealvault.ingest.options import ColumnOptions, DateOrder


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


def test_mapping_file_states_reading_options(tmp_path: Path) -> None:
    """A column's table holds its field and options; without ``field`` the proposed field
    stays and only the options are set."""
    t = tmp_path / "m.toml"
    t.write_text(
        '[columns]\n"Tel." = { field = "phone", phone_region = "us" }\n'
        'Born = { date_order = "D/M/Y" }\nNotes = ""\n'
        '[columns.Joined]\nfield = "registered_at"\ndate_order = "mdy"\n',
        encoding="utf-8",
    )
    got = load_mapping_file(path=t)
    assert got.columns == {"Tel.": "phone", "Notes": None, "Joined": "registered_at"}
    assert got.options == {
        "Tel.": ColumnOptions(phone_region="US"),
        "Born": ColumnOptions(date_order=DateOrder.DMY),
        "Joined": ColumnOptions(date_order=DateOrder.MDY),
    }
    assert load_mapping(path=t) == got.columns
    j = tmp_path / "m.json"
    j.write_text('{"Tel.": {"field": "phone", "phone_region": "UK"}}', encoding="utf-8")
    assert load_mapping_file(path=j).options == {"Tel.": ColumnOptions(phone_region="GB")}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('{ field = "phone", region = "US" }', "unknown column option 'region'"),
        ('{ field = "phone", phone_region = "Narnia" }', "two-letter region code"),
        ('{ field = "birth_date", date_order = "YMD" }', "DMY .day first. or MDY"),
    ],
)
def test_mapping_file_options_are_checked(tmp_path: Path, table: str, message: str) -> None:
    t = tmp_path / "m.toml"
    t.write_text(f'"Tel." = {table}\n', encoding="utf-8")
    with pytest.raises(InputError, match=message) as ei:
        load_mapping_file(path=t)
    assert ei.value.file == "m.toml" and ei.value.column == "Tel."


def test_options_must_fit_the_field() -> None:
    m = propose_mapping(columns=["name", "phone", "dob", "内部备注"])
    us = {"phone": ColumnOptions(phone_region="US")}
    got = apply_overrides(mapping=m, overrides={}, options=us)
    assert got.options_of("phone").phone_region == "US"
    assert got.options_of("dob") == ColumnOptions()
    with pytest.raises(InputError, match="phone_region applies") as ei:
        apply_overrides(mapping=m, overrides={}, options={"dob": ColumnOptions(phone_region="US")})
    assert ei.value.column == "dob"
    with pytest.raises(InputError, match="date_order applies"):
        apply_overrides(
            mapping=m, overrides={}, options={"内部备注": ColumnOptions(date_order=DateOrder.DMY)}
        )
    # a column given another field, or none, loses the options read for the old one
    assert apply_overrides(mapping=got, overrides={"phone": None}).options == {}


def test_map_flags() -> None:
    assert parse_map_flags(flags=["列=phone", "备注=", "x=-"]) == {
        "列": "phone",
        "备注": None,
        "x": None,
    }
    with pytest.raises(InputError):
        parse_map_flags(flags=["novalue"])
