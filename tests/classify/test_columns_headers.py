"""Header synonyms (Chinese, English, pinyin) and confidence ordering."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dealvault.classify.columns import classify_column
from dealvault.classify.headers import EXACT, KEYWORD, clean_header, header_hint
from dealvault.synth.idnumbers import MOBILE_PREFIXES


@pytest.mark.parametrize(
    ("header", "first_type", "field"),
    [
        ("手机号", "cn_mobile", "phone"),
        ("sjh", "cn_mobile", "phone"),
        ("Mobile", "cn_mobile", "phone"),
        ("联系电话", "cn_mobile", "phone"),
        ("身份证号", "cn_ric", "id_number"),
        ("sfzh", "cn_ric", "id_number"),
        ("ID Card No.", "cn_ric", "id_number"),
        ("证件号码", "cn_ric", "id_number"),
        ("姓名", "cn_name", "name"),
        ("xm", "cn_name", "name"),
        ("Customer Name", "cn_name", "name"),
        ("邮箱", "email", "email"),
        ("E-mail Address", "email", "email"),
        ("yx", "email", "email"),
        ("地址", "cn_address", "address"),
        ("dz", "cn_address", "address"),
        ("收货地址", "cn_address", "address"),
        ("银行卡号", "bank_card", "bank_card"),
        ("yhkh", "bank_card", "bank_card"),
        ("信用卡号", "credit_card", "bank_card"),
        ("出生日期", "date_of_birth", "birth_date"),
        ("csrq", "date_of_birth", "birth_date"),
        ("Date of Birth", "date_of_birth", "birth_date"),
        ("护照号码", "cn_passport", None),
        ("港澳通行证", "hk_macau_permit", None),
        ("台胞证", "tw_permit", None),
        ("车牌号", "license_plate", None),
        ("统一社会信用代码", "uscc", None),
        ("IP地址", "ipv4", None),
        ("IBAN", "iban", None),
        ("座机", "cn_landline", "phone"),
        ("订单号", "order_id", "order_id"),
        ("ddh", "order_id", "order_id"),
        ("客户编号", "customer_id", "customer_key"),
        ("khbh", "customer_id", "customer_key"),
        ("金额", "amount", "amount"),
        ("je", "amount", "amount"),
        ("下单时间", "date", "order_time"),
        ("备注", "free_text", "note"),
        ("bz", "free_text", "note"),
        ("购买频率", "frequency", "purchase_frequency"),
        ("偏好产品", "product", "favourite_product"),
    ],
)
def test_header_synonyms(header: str, first_type: str, field: str | None) -> None:
    hint = header_hint(header)
    assert hint.types[0] == first_type
    assert hint.field == field
    assert hint.strength == EXACT


@pytest.mark.parametrize(
    ("header", "first_type"),
    [
        ("客户手机号码(必填)", "cn_mobile"),
        ("买家手机", "cn_mobile"),
        ("紧急联系人电话", "cn_mobile"),
        ("家庭住址详情", "cn_address"),
        ("Shipping Address Line", "cn_address"),
        ("客户身份证号码18位", "cn_ric"),
        ("会员生日", "date_of_birth"),
        ("订单实付金额", "amount"),
        ("支付时间", "date"),
        ("客服沟通记录", "free_text"),
    ],
)
def test_header_keywords(header: str, first_type: str) -> None:
    hint = header_hint(header)
    assert hint.types[0] == first_type
    assert hint.strength in (EXACT, KEYWORD)


@pytest.mark.parametrize("header", [None, "", "column_3", "Unnamed: 0", "字段1", "col", "xyz"])
def test_headers_that_say_nothing(header: str | None) -> None:
    assert header_hint(header).types == ()
    assert header_hint(header).strength == 0.0


def test_clean_header() -> None:
    assert clean_header("\ufeff 手机号码（必填）") == "手机号码"
    assert clean_header("Phone_2") == "phone"
    assert clean_header("E-mail Address:") == "emailaddress"


def _mobiles(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        f"{int(rng.choice(MOBILE_PREFIXES))}{int(rng.integers(0, 10**8)):08d}" for _ in range(n)
    ]


def test_confidence_ordering() -> None:
    clean = pl.Series(_mobiles(1_000, 1))
    noisy = pl.Series(_mobiles(850, 2) + ["无"] * 150)

    def conf(name: str | None, values: pl.Series) -> float:
        got = classify_column(name=name, values=values)
        assert got.pii_type == "cn_mobile"
        return got.confidence

    exact, keyword, none = conf("手机号", clean), conf("买家手机", clean), conf(None, clean)
    assert exact > keyword > none > conf(None, noisy)
    assert conf("手机号", clean) > conf("手机号", noisy)
    assert conf("邮箱", clean) < none  # a header naming another type lowers confidence
    assert conf(None, pl.Series(_mobiles(5, 3))) < none  # five values say less than 1,000
    assert all(0.0 <= c <= 1.0 for c in (exact, keyword, none))


def test_values_beat_a_wrong_header() -> None:
    emails = pl.Series([f"user{i}@example.com" for i in range(200)])
    got = classify_column(name="手机号", values=emails)
    assert got.pii_type == "email"
    assert got.field == "email"
