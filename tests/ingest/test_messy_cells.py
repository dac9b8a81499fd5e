"""Real-world cells: placeholders mean "no value"; a phone cell may hold two numbers."""

from __future__ import annotations

import polars as pl
import pytest
from ingest_helpers import make_ric

from dealvault.errors import InputError
from dealvault.ingest.fields import TableRole
from dealvault.ingest.mapping import ColumnMapping, propose_mapping
from dealvault.ingest.normalize import NormalisedBatch, normalise_batch
from dealvault.ingest.phones import second_phone_column
from dealvault.ingest.placeholders import PLACEHOLDERS


def run(
    values: dict[str, list[str | None]], mapping: ColumnMapping | None = None
) -> NormalisedBatch:
    frame = pl.DataFrame(values, schema=dict.fromkeys(values, pl.String))
    m = mapping or propose_mapping(columns=list(values), table_role=TableRole.CUSTOMERS)
    return normalise_batch(frame=frame, mapping=m, file="t.csv", first_row=1)


@pytest.mark.parametrize(
    "word", ["无", "暂无", "N/A", "-", "none", "NULL", "不详", "（无）", "[空]", "——"]
)
def test_placeholders_are_empty_in_every_validated_field(word: str) -> None:
    nb = run(
        {
            "姓名": ["测试甲"],
            "手机号": [word],
            "邮箱": [word],
            "身份证号": [word],
            "出生日期": [word],
            "银行卡号": [word],
            "性别": [word],
            "地址": [word],
        }
    )
    assert nb.rejects.height == 0
    row = nb.clean.row(0, named=True)
    for f in ("phone", "email", "id_number", "birth_date", "bank_card", "gender"):
        assert row[f] is None, f
    assert row["address"] == word  # free text keeps what was written
    assert "phone_2" not in nb.clean.columns


def test_a_placeholder_is_not_an_identifier() -> None:
    nb = run({"姓名": [None, "测试乙"], "手机号": ["无", "无"], "身份证号": ["N/A", None]})
    assert nb.clean["name"].to_list() == ["测试乙"]
    assert nb.rejects.rows() == [(1, None, "row has no identifying field")]


def test_real_values_next_to_placeholders_still_validate() -> None:
    nb = run({"姓名": ["a", "b"], "邮箱": ["无", "not-an-email"], "金额": ["-", "abc"]})
    assert nb.clean["amount"].to_list() == [None]
    assert nb.rejects.rows() == [(2, "邮箱", "invalid e-mail address"), (2, "金额", "not a number")]


def test_placeholder_list_has_no_digits_or_values_of_a_field() -> None:
    assert not any(ch.isdigit() for word in PLACEHOLDERS for ch in word)
    assert PLACEHOLDERS.isdisjoint({"男", "女", "m", "f", "x"})


@pytest.mark.parametrize(
    ("cell", "first", "second"),
    [
        ("13800138000/13900139000", "+8613800138000", "+8613900139000"),
        ("13800138000,13900139000", "+8613800138000", "+8613900139000"),
        ("13800138000;13900139000", "+8613800138000", "+8613900139000"),
        ("13800138000，13900139000", "+8613800138000", "+8613900139000"),
        ("13800138000、13900139000", "+8613800138000", "+8613900139000"),
        ("13800138000 13900139000", "+8613800138000", "+8613900139000"),
        ("13800138000  或 13900139000", "+8613800138000", "+8613900139000"),
        ("138-0013-8000 / 139 0013 9000", "+8613800138000", "+8613900139000"),
        ("010-62345678，13800138000、", "+861062345678", "+8613800138000"),
        ("13800138000/无", "+8613800138000", None),
        ("13800138000/13800138000", "+8613800138000", None),  # same number twice
        ("138 0013 8000", "+8613800138000", None),  # spaces inside one number
        ("+86 138 0013 8000", "+8613800138000", None),
        ("0/13800138000", "+8613800138000", None),  # an all-zero placeholder
    ],
)
def test_a_phone_cell_keeps_both_numbers(cell: str, first: str, second: str | None) -> None:
    nb = run({"姓名": ["a"], "手机号": [cell], "邮箱": ["a@example.com"]})
    assert nb.rejects.height == 0
    assert nb.clean["phone"].to_list() == [first]
    got = nb.clean["phone_2"].to_list() if "phone_2" in nb.clean.columns else [None]
    assert got == [second]


def test_second_numbers_keep_column_order_and_batch_shape() -> None:
    nb = run(
        {
            "姓名": ["a", "b"],
            "手机号": ["13800138000/13900139000", "13700137000"],
            "邮箱": [None, None],
        }
    )
    assert nb.clean.columns == ["__row", "name", "phone", "phone_2", "email"]
    assert nb.clean["phone_2"].to_list() == ["+8613900139000", None]


def test_bad_or_too_many_numbers_reject_the_row_naming_the_column() -> None:
    nb = run(
        {
            "姓名": ["a", "b", "c"],
            "手机号": ["13800138000/12345", "13800138000/13900139000/13700137000", "13800138000"],
        }
    )
    assert nb.clean["name"].to_list() == ["c"]
    assert nb.rejects.rows() == [
        (1, "手机号", "invalid phone number"),
        (2, "手机号", "more than two phone numbers for one customer"),
    ]
    assert not any("138" in r for r in nb.rejects["reason"].to_list())


def test_a_column_mapped_to_phone_2() -> None:
    cols = {"姓名": "name", "手机": "phone", "备用电话": "phone_2"}
    mapping = ColumnMapping(table_role=TableRole.CUSTOMERS, columns=dict(cols))
    assert propose_mapping(columns=list(cols)).columns == cols  # 备用电话 is a synonym
    nb = run(
        {
            "姓名": ["a", "b", "c", "d"],
            "手机": [None, "13800138000", "13800138000/13900139000", "13800138000/1"],
            "备用电话": ["13900139000", "13900139000", "13700137000", None],
        },
        mapping,
    )
    # an empty phone cell: the backup number becomes the customer's first phone
    assert nb.clean["phone"].to_list() == ["+8613900139000", "+8613800138000"]
    assert nb.clean["phone_2"].to_list() == [None, "+8613900139000"]
    assert nb.rejects.rows() == [
        (3, "备用电话", "more than two phone numbers for one customer"),
        (4, "手机", "invalid phone number"),
    ]


def test_phone_2_needs_a_phone_column() -> None:
    mapping = ColumnMapping(
        table_role=TableRole.CUSTOMERS, columns={"姓名": "name", "备用电话": "phone_2"}
    )
    with pytest.raises(InputError, match="needs a column mapped to 'phone'") as err:
        run({"姓名": ["a"], "备用电话": ["13900139000"]}, mapping)
    assert "备用电话" in str(err.value)


def test_second_phone_column_name() -> None:
    assert second_phone_column(columns={"手机号": "phone"}) == "手机号 (2nd number)"
    assert second_phone_column(columns={"手机号": "phone", "备用": "phone_2"}) is None
    assert second_phone_column(columns={"姓名": "name"}) is None
    taken = {"手机号": "phone", "手机号 (2nd number)": None}
    assert second_phone_column(columns=taken) == "手机号 (2nd number)'"


def test_ids_and_cards_next_to_placeholders() -> None:
    good = make_ric("31011519850312123")
    nb = run({"姓名": ["a", "b"], "身份证号": [good, "暂无"], "银行卡号": ["无", None]})
    assert nb.clean["id_number"].to_list() == [good, None]
