"""Vectorised masking: each PII type's masked form, nulls, odd values, and the scalar API."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealvault.classify.types import TYPES
from dealvault.deidentify.masking import (
    FIELD_TYPES,
    PASS_THROUGH_FIELDS,
    PASS_THROUGH_TYPES,
    mask_column,
    mask_expr,
    mask_field,
    mask_frame,
)
from dealvault.errors import Invalid
from dealvault.synth import generate_customers


def masked(pii_type: str, values: list[str | None]) -> list[str | None]:
    return mask_column(pl.Series("col", values, dtype=pl.String), pii_type=pii_type).to_list()


EXAMPLES: list[tuple[str, str, str]] = [
    ("cn_name", "张三明", "张*明"),
    ("cn_name", "张三", "张*"),
    ("cn_name", "张", "*"),
    ("cn_name", "", "*"),
    ("cn_name", "欧阳小明", "欧**明"),
    ("cn_name", "Ann Lee", "A*****e"),
    ("cn_mobile", "13812345678", "138****5678"),
    ("cn_mobile", "+86 138-1234-5678", "138****5678"),
    ("cn_mobile", "(0086)13812345678", "138****5678"),
    ("cn_mobile", "１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits
    ("cn_mobile", "12345", "***45"),
    ("cn_mobile", "5", "5"),
    ("cn_mobile", "无", ""),
    ("cn_landline", "010-62345678", "010****5678"),
    ("cn_landline", "6234 5678", "******78"),
    ("intl_phone", "+44 20 7946 0958", "420****0958"),
    ("cn_ric", "11010519850302002X", "110105********002X"),
    ("cn_ric", "110105850302003", "110105*****2003"),
    ("cn_ric", "1101058503", "**********"),
    ("cn_ric", "123", "***"),
    ("cn_passport", "E12345678", "E******78"),
    ("cn_passport", "E12", "***"),
    ("hk_macau_permit", "C12345678", "C******78"),
    ("tw_permit", "12345678", "1*****78"),
    ("email", "alice@example.com", "a***@example.com"),
    ("email", "张三@例子.example", "张***@例子.example"),
    ("email", "@mail.invalid", "***@mail.invalid"),
    ("email", "a@b@c.example", "a***@b@c.example"),
    ("email", "no-at-sign", "***"),
    ("email", "trailing@", "***"),
    ("bank_card", "6222 0212 3456 7890", "**** 7890"),
    ("credit_card", "4111-1111-1111-1111", "**** 1111"),
    ("iban", "GB82 WEST 1234 5698 7654 32", "**** 5432"),
    ("bank_card", "12", "****"),
    ("cn_address", "北京市海淀区中关村大街1号", "北京市海淀区***"),
    ("cn_address", "浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区***"),
    ("cn_address", "云南省大理州宾川县金牛镇", "云南省大理州宾川县***"),
    ("cn_address", "江苏省苏州市姑苏路8号", "江苏省苏州市***"),
    ("cn_address", "区政府大楼某某县", "区政府大楼某某县***"),  # 区 at 0 does not count
    ("cn_address", "上海", "上海***"),
    ("cn_address", "中华人民共和国某某省某某自治州某某地方某某区", "中华人民共和***"),
    ("date_of_birth", "1985-03-02", "1985-**-**"),
    ("date_of_birth", "1985年3月2日", "1985-**-**"),
    ("date_of_birth", "85", "****"),
    ("license_plate", "京A12345", "京A***5"),
    ("license_plate", "粤B", "***"),
    ("ipv4", "192.168.1.20", "192.168.*.*"),
    ("ipv4", "not an ip", "***"),
    ("ipv6", "2001:db8::1", "2001:*"),
    ("uscc", "91110108MA01ABCD2X", "91110108**********"),
    ("uscc", "9111", "****"),
    ("some_new_type", "秘密值", "[3 characters]"),
]


@pytest.mark.parametrize(("pii_type", "value", "expected"), EXAMPLES)
def test_masked_form(pii_type: str, value: str, expected: str) -> None:
    assert masked(pii_type, [value]) == [expected]


@pytest.mark.parametrize("pii_type", sorted({*TYPES, "unknown"}))
def test_nulls_stay_null_and_name_is_kept(pii_type: str) -> None:
    values = pl.Series("客户 列", ["13812345678", None, "张三明", None], dtype=pl.String)
    out = mask_column(values, pii_type=pii_type)
    assert out.name == "客户 列"
    assert len(out) == 4
    assert out.is_null().to_list() == [False, True, False, True]


def test_empty_and_all_null_columns() -> None:
    assert mask_column(pl.Series("a", [], dtype=pl.String), pii_type="cn_mobile").len() == 0
    assert masked("cn_name", [None, None]) == [None, None]
    nulls = mask_column(pl.Series("a", [None, None]), pii_type="email")
    assert nulls.to_list() == [None, None]


@pytest.mark.parametrize(
    "pii_type", sorted(t for t in TYPES if t not in PASS_THROUGH_TYPES | {"free_text"})
)
def test_personal_types_never_show_the_value(pii_type: str) -> None:
    values = [
        "13812345678",
        "11010519850302002X",
        "alice@example.com",
        "6222021234567890",
        "北京市海淀区中关村大街1号",
        "张三明",
        "1985-03-02",
        "京A12345",
        "192.168.1.20",
        "2001:db8::1",
        "91110108MA01ABCD2X",
    ]
    for value, out in zip(values, masked(pii_type, list(values)), strict=True):
        assert out != value
        assert out is not None


def test_pass_through_types_are_unchanged() -> None:
    for pii_type in PASS_THROUGH_TYPES:
        assert masked(pii_type, ["男", None, "12.50"]) == ["男", None, "12.50"]


def test_free_text_masks_spans_inside_notes() -> None:
    out = masked("free_text", ["请回电13812345678，谢谢", None, "无异常"])
    assert out == ["请回电138****5678，谢谢", None, "无异常"]


def test_mask_expr_refuses_free_text() -> None:
    with pytest.raises(Invalid):
        mask_expr(pl.col("note"), pii_type="free_text")


def test_date_column_is_masked_on_its_iso_form() -> None:
    dates = pl.Series("出生日期", [date(1985, 3, 2), None])
    assert mask_column(dates, pii_type="date_of_birth").to_list() == ["1985-**-**", None]


def test_mask_frame_masks_only_named_columns() -> None:
    frame = pl.DataFrame(
        {
            "姓名": ["张三明", None],
            "手机": ["13812345678", "13987654321"],
            "金额": ["12.50", "3.00"],
        }
    )
    out = mask_frame(frame, types={"姓名": "cn_name", "手机": "cn_mobile"})
    assert out.columns == frame.columns
    assert out["姓名"].to_list() == ["张*明", None]
    assert out["手机"].to_list() == ["138****5678", "139****4321"]
    assert out["金额"].to_list() == ["12.50", "3.00"]


def test_mask_frame_missing_column() -> None:
    with pytest.raises(Invalid, match="'电话'"):
        mask_frame(pl.DataFrame({"a": ["1"]}), types={"电话": "cn_mobile"})


# --- the scalar API ----------------------------------------------------------------


def test_mask_field_forms() -> None:
    assert mask_field("name", "张三明") == "张*明"
    assert mask_field("phone", "13812345678") == "138****5678"
    assert mask_field("id_number", "11010519850302002X") == "110105********002X"
    assert mask_field("email", "alice@example.com") == "a***@example.com"
    assert mask_field("bank_card", "6222021234567890") == "**** 7890"
    assert mask_field("address", "北京市海淀区中关村大街1号") == "北京市海淀区***"
    assert mask_field("birth_date", "1985-03-02") == "1985-**-**"
    assert mask_field("note", "电话13812345678") == "电话138****5678"
    assert mask_field("something_else", "秘密") == "[2 characters]"
    assert mask_field("name", None) is None
    for field in PASS_THROUGH_FIELDS:
        assert mask_field(field, "x1") == "x1"


def test_mask_field_invalid_unicode_names_no_value() -> None:
    with pytest.raises(Invalid) as err:
        mask_field("name", "张\ud800三")
    assert "张" not in str(err.value)
    assert "name" in str(err.value)


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(sorted(set(FIELD_TYPES) - {"note"})),
    value=st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
)
def test_mask_field_agrees_with_mask_column(field: str, value: str) -> None:
    column = mask_column(pl.Series([value], dtype=pl.String), pii_type=FIELD_TYPES[field])
    assert mask_field(field, value) == column.item()


def test_mask_field_agrees_with_mask_column_on_synth_customers() -> None:
    frame = next(iter(generate_customers(rows=300, seed=7, chunk_rows=300)))
    columns = {
        "name": "姓名",
        "phone": "手机号",
        "id_number": "身份证号",
        "email": "邮箱",
        "bank_card": "银行卡号",
        "address": "地址",
    }
    for field, column in columns.items():
        values = frame[column]
        whole = mask_column(values, pii_type=FIELD_TYPES[field]).to_list()
        assert whole == [mask_field(field, v) for v in values.to_list()]


# --- properties --------------------------------------------------------------------

DIGIT = st.sampled_from("0123456789")
SEPARATED = st.sampled_from(["", " ", "-"])


@settings(max_examples=200, deadline=None)
@given(
    number=st.text(alphabet=DIGIT, min_size=11, max_size=11),
    prefix=st.sampled_from(["", "+86 ", "0086-", "86"]),
    sep=SEPARATED,
)
def test_phone_middle_digits_never_shown(number: str, prefix: str, sep: str) -> None:
    value = prefix + number[:3] + sep + number[3:7] + sep + number[7:]
    (out,) = masked("cn_mobile", [value])
    assert out is not None
    assert out == number[:3] + "****" + number[7:]
    assert re.sub(r"\D", "", out) == number[:3] + number[7:]


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(alphabet=DIGIT, min_size=17, max_size=17),
    check=st.sampled_from("0123456789X"),
)
def test_id_number_middle_never_shown(body: str, check: str) -> None:
    value = body + check
    (out,) = masked("cn_ric", [value])
    assert out is not None
    assert out[6:14] == "********"
    assert out == value[:6] + "********" + value[-4:]


@settings(max_examples=200, deadline=None)
@given(number=st.text(alphabet=DIGIT, min_size=12, max_size=19), sep=SEPARATED)
def test_card_shows_only_last_four(number: str, sep: str) -> None:
    value = sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    (out,) = masked("bank_card", [value])
    assert out == "**** " + number[-4:]
    assert out is not None
    assert re.sub(r"\D", "", out) == number[-4:]


# The scalar maskers this module replaced: the vectorised forms keep their behaviour
# (except a 10-character ID number, now all stars instead of shown in full).
def old_name(v: str) -> str:
    if len(v) <= 1:
        return "*"
    return v[0] + "*" if len(v) == 2 else v[0] + "*" * (len(v) - 2) + v[-1]


def old_phone(v: str) -> str:
    d = "".join(re.findall(r"\d", v))
    if len(d) >= 11:
        return d[-11:][:3] + "****" + d[-4:]
    return "*" * max(0, len(d) - 2) + d[-2:]


def old_email(v: str) -> str:
    local, _, domain = v.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def old_card(v: str) -> str:
    d = "".join(re.findall(r"\d", v))
    return "**** " + d[-4:] if len(d) >= 4 else "****"


def old_address(v: str) -> str:
    for marker in ("区", "县", "市"):
        cut = v.find(marker)
        if 0 < cut < 16:
            return v[: cut + 1] + "***"
    return v[:6] + "***"


def old_id(v: str) -> str:
    if len(v) <= 10:  # the scalar version showed a 10-character value in full
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


OLD = {
    "cn_name": old_name,
    "cn_mobile": old_phone,
    "email": old_email,
    "bank_card": old_card,
    "cn_address": old_address,
    "cn_ric": old_id,
}
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("区县市省@-+ 0123456789１２"),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(pii_type=st.sampled_from(sorted(OLD)), values=st.lists(TEXT, max_size=8))
def test_vectorised_forms_match_the_scalar_rules(pii_type: str, values: list[str]) -> None:
    assert masked(pii_type, list(values)) == [OLD[pii_type](v) for v in values]


def test_scalar_rules_hold_on_synth_customers() -> None:
    frame = next(iter(generate_customers(rows=2000, seed=3, chunk_rows=2000)))
    columns = {"姓名": "cn_name", "手机号": "cn_mobile", "邮箱": "email"}
    columns |= {"银行卡号": "bank_card", "地址": "cn_address", "身份证号": "cn_ric"}
    for column, pii_type in columns.items():
        values = frame[column].to_list()
        expected = [None if v is None else OLD[pii_type](v) for v in values]
        assert mask_column(frame[column], pii_type=pii_type).to_list() == expected


def test_masked_linkage_measures_rows_unique_on_masked_identifiers() -> None:
    from dealvault.deidentify.levels import masked_linkage

    masked = pl.DataFrame(
        {
            "token": ["t1", "t2", "t3", "t4"],
            "phone": ["138****0001", "138****0001", "139****0002", None],
            "id_number": ["11010*****01", "11010*****02", "11010*****02", "11010*****02"],
            "gender": ["F", "M", "F", "M"],
        }
    )
    types = {"phone": "cn_mobile", "id_number": "cn_ric", "gender": None}
    got = masked_linkage(masked, types=types)
    assert got["columns"] == ["phone", "id_number"]
    assert got["unique_share"] == {"phone": 0.25, "id_number": 0.25}
    assert got["unique_share_any"] == 0.5  # rows 1 (by ID) and 3 (by phone)
    assert got["statement"].startswith("50% of these rows carry a masked phone, id_number")
    assert "138" not in got["statement"]
    empty = masked_linkage(masked.select("token", "gender"), types=types)
    assert empty["unique_share_any"] == 0.0 and empty["columns"] == []
