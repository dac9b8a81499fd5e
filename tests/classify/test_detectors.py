"""Detectors: positives and negatives per type, validators against python-stdnum."""

from __future__ import annotations

from datetime import date

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn as stdnum_luhn
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from dealvault.classify import validators as v
from dealvault.classify.cells import Cells
from dealvault.classify.detectors import DETECTORS, PII_TYPES, detect, detect_all
from dealvault.classify.gazetteer import region_codes
from dealvault.errors import Invalid
from dealvault.synth.idnumbers import luhn_check_digit, ric_check_digit

TODAY = date(2025, 6, 30)


def ric(first17: str) -> str:
    return first17 + ric_check_digit(first17)


def card(body: str) -> str:
    return body + luhn_check_digit(body)


def wrong_check(value: str) -> str:
    chars = "0123456789X"
    return value[:-1] + chars[(chars.index(value[-1].upper()) + 1) % 11]


GB_MOBILE = phonenumbers.format_number(
    phonenumbers.example_number_for_type("GB", phonenumbers.PhoneNumberType.MOBILE),
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
)

# type -> (values that must match, values that must not)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "cn_ric": (
        [ric("11010519491231002"), ric("44030319900101100").lower(), "110105490101123",
         ric("81000019900101123"),  # HK residence permit uses the ID layout
         ric("11011719900101002")],  # Pinggu district code created in 2001, birth 1990
        [wrong_check(ric("11010519491231002")), ric("11010519490231002"),  # 31 Feb
         ric("99010519900101002"),  # no such region
         ric("11010520300101002"),  # born in the future
         "1101051949123100", "abc"],
    ),
    "cn_mobile": (
        ["13812345678", "+86 138 1234 5678", "0086-13812345678", "138-1234-5678",
         "8619912345678", "(+86)15012345678"],
        ["15412345678", "14012345678", "1381234567", "23812345678", "010-12345678"],
    ),
    "cn_landline": (
        ["010-12345678", "0755-1234567", "(021)62345678", "02087654321", "+86 10 6234 5678",
         "0571-87654321转123"],
        ["13812345678", "12345678", "1234-5678", "0000-1234567"],
    ),
    "intl_phone": ([GB_MOBILE, "+49 1512 3456789"], ["+86 138 1234 5678", "+1 123", "12345"]),
    "email": (
        ["zhang.wei@example.com", "a+b@mail.example.org", "X_Y-1@163.example"],
        ["no-at-sign.example.com", "a@b", "a@@example.com", "a b@example.com", "@example.com"],
    ),
    "bank_card": (
        [card("622202123456789012"), card("621700" + "0" * 12), card("622588123456789"),
         card("436742123456789")],
        [wrong_check(card("622202123456789012")).replace("X", "0"),
         card("20240615000000"),  # Luhn-valid but no issuer range starts with 20
         "6222021234567", "abc"],
    ),
    "credit_card": (
        [card("411111111111111"), card("510510510510510"), card("37828224631000"),
         card("353011133330000")],
        [card("622202123456789012"), card("411111111111110")[:-1] + "0", "4111"],
    ),
    "uscc": (["91110000600037341L", "9111 0000 6000 3734 1L"],
             ["91110000600037341K", "A1110000600037341L", "9111000060003734"]),
    "iban": (["DE89 3704 0044 0532 0130 00", "DE89370400440532013000"],
             ["DE88370400440532013000", "DD20240101000000001"]),
    "cn_passport": (["E12345678", "EA1234567", "G12345678", "DE1234567"],
                    ["E1234567", "EI1234567", "X12345678", "12345678"]),
    "hk_macau_permit": (["C12345678", "CA1234567", "H12345678", "M1234567890", "W12345678"],
                        ["C1234567", "CI1234567", "H123456789"]),
    "tw_permit": (["L12345678", "T12345678", "1234567890(B)"], ["12345678", "X12345678"]),
    "license_plate": (
        ["京A12345", "粤BD12345", "沪AF0236", "苏E12345D", "京A·12345", "川A1234学"],
        ["京I12345", "A12345", "京A1234", "北A12345"],
    ),
    "ipv4": (["192.168.1.1", "8.8.8.8", "255.255.255.255"], ["256.1.1.1", "1.2.3", "1.2.3.4.5"]),
    "ipv6": (["2001:db8::1", "::1", "fe80:0000:0000:0000:0202:b3ff:fe1e:8329"],
             ["2001:db8", "12:34", "gggg::1"]),
    "date_of_birth": (["1990-01-31", "1990/1/31", "1990年1月31日", "19900131", "1990.01.31"],
                      ["2990-01-01", "1990-02-30", "1890-01-01", "2025-07-01", "abc"]),
    "date": (["2024-01-31", "20240229", "2024-01-31 00:00:00"],
             ["2023-02-29", "2024-01-31 10:00:00", "2024-13-01"]),
    "datetime": (["2024-01-31 10:20:30", "2024/1/31 10:20", "2024-01-31T10:20:30Z"],
                 ["2024-01-31", "2024-02-30 10:20:30", "10:20:30", "2024-01-31 00:00:00"]),
    "amount": (["12.50", "¥1,234.50", "99元", "RMB 10.00", "-3.5"], ["12", "1.234", "abc"]),
    "quantity": (["3", "120"], ["1234567", "1.5", "x"]),
    "cn_name": (["张伟", "欧阳娜娜", "王先生", "李晓明", "阿卜杜拉·买买提"],
                ["王者", "高兴", "张", "John Smith", "张伟伟伟伟", "北京市"]),
    "cn_address": (["北京市朝阳区建国路88号", "朝阳区建国路88号", "广东省深圳市南山区科技路1号3栋"],
                   ["建国路88号", "北京市", "客户要求改地址"]),
    "product": (["洗衣液 2kg", "洗衣液、消毒液", "王者荣耀点券 60个"], ["张伟", "a@example.com"]),
    "gender": (["男", "女", "M", "female", "男性"], ["男人", "x1"]),
    "frequency": (["每月", "每季度", "偶尔", "Weekly"], ["每", "sometimesx"]),
    "label": (["金卡", "银卡会员", "普通会员", "钻石会员", "VIP3", "v2", "SVIP", "Gold Member"],
              ["金", "钻石", "会员", "洗衣液", "金卡洗衣液", "会员卡号"]),
    "order_id": (["DD20240101000000001", "ORD-12345", "202406150001234"], ["C00000001", "abc"]),
    "customer_id": (["C00000001", "KH12345", "VIP-0001"], ["DD20240101000000001", "12345"]),
    "free_text": (["客户来电投诉：收到的洗衣液包装破损，漏液严重。",
                   "Customer asked about the refund, will call back"],
                  ["短句", "北京市朝阳区建国路88号", "zhang.wei@example.com"]),
    # international columns (invented values)
    "us_ssn": (["123-45-6789", "078 05 1121", "899-99-9999"],
               ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000",
                "123456789", "12-345-6789"]),
    "passport": (["123456789", "X12345678", "TK1234567", "12AB34567", "C01X00T47", "A1234567"],
                 ["ABCDEFGHI", "12345", "1234567890", "AB-CD"]),
    "driving_licence": (["MORGA657054SM9IJ", "D1234567", "A123-4567-8901", "123456789"],
                        ["ABCDE", "12", "ABC-DEF-GHIJ"]),
    "vin": (["1M8GDM9AXKP042788", "1HGCM82633A004352",
             "1hgcm82633a004352"],
            ["1M8GDM9A1KP042788", "1M8GDM9AXKP04278", "1M8GDM9AXKP04278O", "12345678901234567"]),
    "person_name": (["John Smith", "Mary-Jane O'Brien", "Anna Müller", "SMITH, John",
                     "Jan van der Berg", "Priya Sharma", "Wei Zhang", "James"],
                    ["Acme Inc", "john smith", "Smith & Sons Ltd", "Paris", "Main Street",
                     "Xylo Qwerty", "张伟", "iPhone 15"]),
    "street_address": (["123 Main St", "10 Downing Street, London SW1A 2AA",
                        "Hauptstraße 5, 10115 Berlin", "12 rue de la Paix 75002 Paris",
                        "221B Baker Street", "Via Roma 10", "Keizersgracht 123",
                        "45 Kingsway, Manchester M19 2LL"],
                       ["Main Street", "123", "John Smith", "12 apples", "北京市朝阳区建国路88号",
                        "Order 12345"]),
    "contact_email": (["John Smith <john@example.com>", "\"Smith, J\" <j.smith@mail.example>",
                       "a@b.example (Ann)"],
                      ["john@example.com", "John Smith", "<a@b>", "mail me"]),
}  # fmt: skip


def test_every_type_has_cases() -> None:
    assert set(CASES) == set(PII_TYPES)


@pytest.mark.parametrize("pii_type", sorted(CASES))
def test_positives_and_negatives(pii_type: str) -> None:
    good, bad = CASES[pii_type]
    got = detect(pii_type, pl.Series(good + bad), today=TODAY).to_list()
    missed = [g for g, ok in zip(good, got[: len(good)], strict=True) if not ok]
    wrong = [b for b, ok in zip(bad, got[len(good) :], strict=True) if ok]
    assert not missed and not wrong, (missed, wrong)


def test_mask_is_aligned_with_nulls_and_blanks() -> None:
    values = pl.Series("手机号", [None, "13812345678", "", "   ", " 13912345678 "])
    got = detect("cn_mobile", values)
    assert got.name == "手机号"
    assert got.to_list() == [False, True, False, False, True]


def test_non_string_columns_are_matched_as_text() -> None:
    assert detect("cn_mobile", pl.Series([13812345678, 12])).to_list() == [True, False]
    assert detect("cn_mobile", pl.Series([13812345678.0, None])).to_list() == [True, False]
    assert detect("date", pl.Series([date(2024, 1, 31)])).to_list() == [True]


def test_detect_all_shares_one_normalisation() -> None:
    masks = detect_all(pl.Series(["13812345678", "a@example.com"]), types=("cn_mobile", "email"))
    assert masks["cn_mobile"].to_list() == [True, False]
    assert masks["email"].to_list() == [False, True]


def test_unknown_type_is_invalid() -> None:
    with pytest.raises(Invalid, match="unknown PII type"):
        detect("shoe_size", pl.Series(["42"]))
    with pytest.raises(Invalid):
        detect_all(pl.Series(["42"]), types=("shoe_size",))


def test_empty_series() -> None:
    for t in PII_TYPES:
        assert detect(t, pl.Series([], dtype=pl.String)).len() == 0


# --- validators against python-stdnum -----------------------------------------------------

_CODES = sorted(c for c in range(1_000_000) if region_codes().index[c] >= 0 and c // 10_000 < 81)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(_CODES),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 6, 30)),
    seq=st.integers(0, 999),
    check=st.sampled_from("0123456789X"),
    day_shift=st.sampled_from([0, 0, 0, 5, 40]),  # sometimes an impossible day (e.g. 35, 70)
)
def test_ric18_agrees_with_stdnum(
    code: int, birth: date, seq: int, check: str, day_shift: int
) -> None:
    """Same verdict as python-stdnum, except that stdnum also refuses a region code created
    after (or withdrawn before) the birth year, which real ID numbers carry."""
    number = f"{code:06d}{birth:%Y%m}{birth.day + day_shift:02d}{seq:03d}{check}"
    ours = bool(v.ric18_valid(pl.Series([number]), TODAY)[0])
    assert ours == (stdnum_ric.is_valid(number) or _stdnum_valid_any_year(number))


def _stdnum_valid_any_year(number: str) -> bool:
    """stdnum's checks without its birth-year rule: checksum, date, a code it knows at all."""
    from stdnum import numdb
    from stdnum.exceptions import ValidationError

    try:
        born = stdnum_ric.get_birth_date(number)
    except ValidationError:
        return False
    return (
        stdnum_ric.calc_check_digit(number) == number[-1]
        and date(1900, 1, 1) <= born <= TODAY
        and bool(numdb.get("cn/loc").info(number[:6])[-1][1])
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=13, max_size=19))
def test_luhn_agrees_with_stdnum(number: str) -> None:
    assert bool(v.luhn_valid(pl.Series([number]))[0]) == stdnum_luhn.is_valid(number)


@settings(max_examples=300, deadline=None)
@given(
    head=st.text(alphabet="0123456789", min_size=8, max_size=8),
    tail=st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=10, max_size=10),
    fix=st.booleans(),
)
def test_uscc_agrees_with_stdnum(head: str, tail: str, fix: bool) -> None:
    number = head + tail
    if fix:
        number = number[:17] + stdnum_uscc.calc_check_digit(number)
    assert bool(v.uscc_valid(pl.Series([number]))[0]) == stdnum_uscc.is_valid(number)


def test_vectorised_validators_on_many_rows() -> None:
    good = [ric(f"11010519{y}0101{s:03d}") for y in range(50, 99) for s in range(0, 40, 7)]
    bad = [wrong_check(x) for x in good]
    mask = DETECTORS["cn_ric"](Cells(pl.Series(good + bad), today=TODAY))
    assert mask[: len(good)].all() and not mask[len(good) :].any()


def test_sequential() -> None:
    assert v.sequential(pl.Series([str(13_800_000_000 + i) for i in range(500)]))
    assert v.sequential(pl.Series([f"C{i:08d}" for i in range(0, 5000, 7)]))
    randoms = pl.Series([str(13_800_000_000 + i * 7_919_993 % 99_999_999) for i in range(500)])
    assert not v.sequential(randoms)
    assert not v.sequential(pl.Series(["1", "2", "3"]))  # too few to tell
