"""Realism and validity of the generated customers table."""

from __future__ import annotations

import re
from datetime import date

import phonenumbers
import polars as pl
import pytest
from stdnum import luhn, numdb
from stdnum.cn import ric

from dealvault.synth import CUSTOMER_COLUMNS, DEFAULT_AS_OF, TableBatch, vocab
from dealvault.synth.idnumbers import MOBILE_PREFIXES
from dealvault.synth.names import female_leaning, male_leaning, name_tables
from dealvault.synth.regions import region_table


def share(flags: pl.Series) -> float:
    """Fraction of true values in a boolean Series."""
    return float(flags.cast(pl.Float64).sum()) / max(len(flags), 1)


EXPECTED_HEADERS = [
    "客户编号", "姓名", "性别", "出生日期", "身份证号", "手机号",
    "邮箱", "地址", "银行卡号", "注册日期", "偏好产品", "购买频率",
]  # fmt: skip


def test_headers(sample: TableBatch) -> None:
    assert sample.customers.columns == EXPECTED_HEADERS == list(CUSTOMER_COLUMNS)


def test_customer_ids(sample: TableBatch) -> None:
    ids = sample.customers["客户编号"]
    assert ids[0] == "C00000001"
    assert ids.n_unique() == len(ids)
    assert ids.str.contains(r"^C\d{8}$").all()


def test_id_numbers_valid_and_region_known(sample: TableBatch) -> None:
    ids = sample.customers["身份证号"].to_list()
    assert all(re.fullmatch(r"\d{17}[\dX]", i) for i in ids)
    assert all(ric.is_valid(i) for i in ids)
    assert len(set(ids)) == len(ids)  # unique across blocks
    loc = numdb.get("cn/loc")
    codes = {i[:6] for i in ids}
    assert all(len(loc.info(code)) == 2 for code in codes)  # province + county entries
    assert {int(c) for c in codes} <= set(region_table().codes.tolist())
    assert len(codes) > 1000  # spread over the country


def test_birth_date_and_sex_match_id(sample: TableBatch) -> None:
    df = sample.customers
    born = df["出生日期"].dt.strftime("%Y%m%d")
    assert (df["身份证号"].str.slice(6, 8) == born).all()
    odd = df["身份证号"].str.slice(16, 1).cast(pl.Int32) % 2 == 1
    assert (odd == (df["性别"] == "男")).all()
    assert set(df["性别"].unique()) == {"男", "女"}


def test_address_matches_id_region_for_most(sample: TableBatch) -> None:
    regions = region_table()
    prefix = dict(zip(regions.codes.tolist(), regions.address_prefix.to_list(), strict=True))
    df = sample.customers.filter(pl.col("地址").is_not_null())
    same = [
        addr.startswith(prefix[int(i[:6])])
        for i, addr in zip(df["身份证号"], df["地址"], strict=True)
    ]
    share_moved = 1 - sum(same) / len(same)
    assert 0.06 < share_moved < 0.14
    assert df["地址"].str.contains(r"(路|街|大道)\d+号").all()


def test_mobiles(sample: TableBatch) -> None:
    shown = sample.customers["手机号"]
    digits = shown.str.replace_all(r"\D", "").str.replace(r"^86(\d{11})$", "$1")
    assert digits.str.len_chars().eq(11).all()
    assert set(digits.str.slice(0, 3).cast(pl.Int32).unique().to_list()) <= set(MOBILE_PREFIXES)
    for number in digits.head(3000):
        parsed = phonenumbers.parse(number, "CN")
        assert phonenumbers.is_valid_number_for_region(parsed, "CN"), number
    plain = share(shown.str.contains(r"^\d{11}$"))
    dashed = share(shown.str.contains(r"^\d{3}-\d{4}-\d{4}$"))
    intl = share(shown.str.contains(r"^\+86 \d{3} \d{4} \d{4}$"))
    assert plain + dashed + intl == pytest.approx(1.0)
    assert 0.01 < dashed < 0.06 and 0.01 < intl < 0.06


def test_bank_cards(sample: TableBatch) -> None:
    cards = sample.customers["银行卡号"]
    assert 0.26 < cards.null_count() / len(cards) < 0.34
    present = cards.drop_nulls()
    assert present.str.contains(r"^\d{16,19}$").all()
    assert all(luhn.is_valid(c) for c in present)
    assert share(present.str.starts_with("62")) > 0.9


def test_emails_only_reserved_domains(sample: TableBatch) -> None:
    emails = sample.customers["邮箱"]
    assert 0.12 < emails.null_count() / len(emails) < 0.18
    for email in emails.drop_nulls():
        assert re.fullmatch(r"[a-z0-9.]+@[a-z0-9.]+", email), email
        domain = email.split("@")[1]
        assert domain in {"example.com", "example.net", "example.org"} or domain.endswith(
            (".example", ".invalid")
        ), email
    assert emails.str.ends_with(vocab.RESERVED_EMAIL_SUFFIXES[0]).any()


def test_address_empty_share(sample: TableBatch) -> None:
    share = sample.customers["地址"].null_count() / sample.customers.height
    assert 0.015 < share < 0.045


def test_names(sample: TableBatch) -> None:
    t = name_tables()
    surnames = sorted(t.surname.to_list(), key=len, reverse=True)
    df = sample.customers
    assert df["姓名"].str.len_chars().is_between(2, 4).all()
    top = df["姓名"].str.slice(0, 1).value_counts(sort=True)["姓名"].head(3).to_list()
    assert set(top) <= {"王", "李", "张", "刘"}
    for name in df["姓名"].head(2000):
        assert any(name.startswith(s) for s in surnames), name
    assert df["姓名"].str.contains("^(欧阳|司马|上官|诸葛)").any()
    male, female = male_leaning(), female_leaning()
    men = df.filter(pl.col("性别") == "男")["姓名"].str.slice(1).to_list()
    women = df.filter(pl.col("性别") == "女")["姓名"].str.slice(1).to_list()
    men_f = sum(any(c in female for c in g) for g in men) / len(men)
    women_f = sum(any(c in female for c in g) for g in women) / len(women)
    women_m = sum(any(c in male for c in g) for g in women) / len(women)
    assert men_f < 0.02 and women_m < 0.02 and women_f > 0.6


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_age_mix_and_minors(sample: TableBatch) -> None:
    ages = [_age(b, DEFAULT_AS_OF) for b in sample.customers["出生日期"]]
    n = len(ages)
    under14 = sum(a < 14 for a in ages) / n
    teen = sum(14 <= a < 18 for a in ages) / n
    assert 0.005 < under14 < 0.016
    assert 0.013 < teen < 0.028
    assert max(ages) < 95


def test_registration_dates(sample: TableBatch) -> None:
    df = sample.customers
    assert (df["注册日期"] > df["出生日期"]).all()
    assert (df["注册日期"] <= DEFAULT_AS_OF).all()
    assert (df["注册日期"] >= date(2014, 1, 1)).all()


def test_preferences_and_frequency(sample: TableBatch) -> None:
    df = sample.customers
    prefs = df["偏好产品"].str.split("、").explode()
    assert set(prefs.unique()) <= set(vocab.CATEGORIES)
    assert set(df["购买频率"].unique()) == {"每周", "每月", "每季度", "偶尔"}


def test_everything_encodes_in_gbk(sample: TableBatch) -> None:
    for frame in (sample.customers, sample.orders, sample.notes):
        frame.write_csv().encode("gbk")  # raises on any non-GBK character
    chars = "".join(name_tables().given.to_list() + name_tables().surname.to_list())
    chars += "".join(region_table().address_prefix.to_list())
    chars.encode("gbk")
