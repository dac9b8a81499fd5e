"""Labelled columns for the evaluation: generated PII types and hand-written hard cases."""

from __future__ import annotations

import numpy as np
from cases import (
    COMMON_WORDS,
    Case,
    Rng,
    credit_cards,
    digits,
    hk_permits,
    ibans,
    intl_phones,
    ipv4s,
    ipv6s,
    landlines,
    mobile_formats,
    mobiles,
    passports,
    plates,
    ric,
    ric15,
    unionpay_cards,
    usccs,
    with_luhn,
)

from dealvault.synth.names import name_tables

# (type, generator, headers to try): zh synonym, English, none.
GENERATED = (
    ("cn_passport", passports, ("护照号码", "Passport No.", None)),
    ("hk_macau_permit", hk_permits, ("港澳通行证", "HK Macau permit", None)),
    ("uscc", usccs, ("统一社会信用代码", "USCC", None)),
    ("iban", ibans, ("IBAN", "国际银行账号", None)),
    ("license_plate", plates, ("车牌号", "License Plate", None)),
    ("ipv4", ipv4s, ("IP地址", "client_ip", None)),
    ("ipv6", ipv6s, ("IP地址", "ip_address", None)),
    ("intl_phone", intl_phones, ("境外电话", "Phone", None)),
    ("credit_card", credit_cards, ("信用卡号", "Credit Card Number", None)),
    ("cn_landline", landlines, ("座机", "Office Phone", None)),
    ("cn_mobile", mobile_formats, ("手机号码", "Mobile Phone", None)),
    ("bank_card", lambda r, n: unionpay_cards(r, n, grouped=True), ("银行卡", "Bank Card", None)),
    ("cn_ric", lambda r, n: ric(r, n, lower_x=True), ("身份证号码", "ID Card No.", None)),
    ("cn_ric", ric15, ("身份证", "national_id", None)),
)


def _tw_permits(rng: Rng, n: int) -> list[str]:
    return [str(rng.choice(["L", "T"])) + d for d in digits(rng, n, 8)]


def _names(rng: Rng, n: int, *, titles: bool = False) -> list[str]:
    t = name_tables()
    sur = t.surname.to_list()
    given = t.given.to_list()[:-1]
    out = []
    for _ in range(n):
        s = sur[int(rng.integers(0, len(sur)))]
        if titles and rng.random() < 0.5:
            out.append(s + str(rng.choice(["先生", "女士"])))
        else:
            k = int(rng.integers(1, 3))
            out.append(s + "".join(given[int(i)] for i in rng.integers(0, len(given), k)))
    return out


def generated_cases(rng: Rng, sizes: tuple[int, ...]) -> list[Case]:
    """Every generated type at every size, each under three headers."""
    out: list[Case] = []
    extra = (("tw_permit", _tw_permits, ("往来台湾通行证", "Taiwan permit", None)),)
    for size in sizes:
        for pii_type, gen, headers in (*GENERATED, *extra):
            out.append(Case(f"gen/{pii_type}/{size}", gen(rng, size), pii_type, headers))
    return out


def _sequential(start: int, n: int) -> list[str]:
    return [str(start + i) for i in range(n)]


def _junk(rng: Rng, n: int) -> list[str]:
    pools = [
        mobiles(rng, n),
        [f"user{i}@example.com" for i in rng.integers(0, 10**6, n)],
        _names(rng, n),
        [COMMON_WORDS[int(i)] for i in rng.integers(0, len(COMMON_WORDS), n)],
        digits(rng, n, 6),
        ["N/A", "无", "-", "待定", "test"] * (n // 5 + 1),
    ]
    return [pools[int(rng.integers(0, len(pools)))][i] for i in range(n)]


def hard_cases(rng: Rng, n: int) -> list[Case]:
    """Columns built to trip a classifier; each says what it is and why it is hard."""
    wrong = ric(rng, n, broken=1.0)
    seq11 = _sequential(13_800_000_001, n)
    rand11 = [str(x) for x in rng.integers(10_000_000_000, 20_000_000_000, n)]
    bad_prefix = [
        str(int(rng.choice([100, 112, 120, 129, 140, 141, 144, 146, 148, 154, 160, 161, 163])))
        + d
        for d in digits(rng, n, 8)
    ]
    luhn_orders = [with_luhn(str(622_202_000_000_000_000 + i)[:18]) for i in range(n)]
    dated_orders = [with_luhn(f"20240615{i:07d}") for i in range(n)]
    words = [COMMON_WORDS[int(i)] for i in rng.integers(0, len(COMMON_WORDS), n)]
    products = [
        f"{w}{s} {q}{u}"
        for w, s, q, u in zip(
            words,
            rng.choice(["酸奶", "果汁", "礼盒", "点券", "纸巾"], n),
            rng.integers(1, 500, n),
            rng.choice(["ml", "g", "个", "盒", "包"], n),
            strict=True,
        )
    ]
    mixed_phones = [
        m if rng.random() < 0.7 else l
        for m, l in zip(mobile_formats(rng, n), landlines(rng, n), strict=True)
    ]
    emails = [f"buyer{i}@example.com" if rng.random() > 0.1 else "无" for i in range(n)]
    taiwan = digits(rng, n, 8)
    return [
        Case("hard/wrong_checksum_ids", wrong, None, (None, "编号"),
             "18-digit IDs whose check digit is wrong"),
        Case("hard/dirty_ids", ric(rng, n, broken=0.05), "cn_ric", (None,),
             "real IDs, 5% mistyped"),
        Case("hard/sequential_11_digit_orders", seq11, "order_id", ("订单号", "order_no"),
             "consecutive numbers starting 138: valid mobile prefix, not phones"),
        Case("hard/sequential_11_digit_bare", seq11, None, (None,),
             "consecutive 11-digit numbers without a header"),
        Case("hard/random_11_digit_orders", rand11, "order_id", ("单号",),
             "random 11-digit numbers starting 1 (a quarter fail the prefix list)"),
        Case("hard/random_11_digit_bare", rand11, None, (None,), "same, no header"),
        Case("hard/non_mobile_prefixes", bad_prefix, None, (None, "号码"),
             "11 digits, prefixes no carrier uses"),
        Case("hard/luhn_order_ids", luhn_orders, "order_id", ("交易流水号",),
             "19-digit order ids starting 62 with a Luhn digit, consecutive"),
        Case("hard/luhn_order_ids_bare", luhn_orders, None, (None,),
             "same without header: serial numbers, not cards"),
        Case("hard/dated_order_ids", dated_orders, "order_id", ("order_no", None),
             "16 digits = date + sequence + Luhn; not an issuer range"),
        Case("hard/grouped_bank_cards", unionpay_cards(rng, n, grouped=True), "bank_card",
             (None,), "UnionPay cards written in groups of four"),
        Case("hard/credit_cards_bare", credit_cards(rng, n), "credit_card", (None,),
             "Visa / Mastercard / Amex / JCB without header"),
        Case("hard/common_word_products", words, "product", ("产品名称", "商品"),
             "product names that are common words starting with a surname (王者, 高兴)"),
        Case("hard/common_words_bare", words, None, (None,),
             "the same words without header: not names"),
        Case("hard/word_products_bare", products, "product", (None,),
             "products built on common words, with sizes"),
        Case("hard/names_english_header", _names(rng, n), "cn_name",
             ("Customer Name", "full_name", "xm"), "names under English / pinyin headers"),
        Case("hard/names_titles", _names(rng, n, titles=True), "cn_name", ("联系人", None),
             "half the names are 张先生 / 李女士"),
        Case("hard/mixed_phones", mixed_phones, "cn_mobile", ("联系电话", None),
             "70% mobiles, 30% landlines, assorted formats"),
        Case("hard/mobiles_as_integers", [int(m) for m in mobiles(rng, n)], "cn_mobile",
             (None, "sjh"), "mobiles stored as a number column"),
        Case("hard/junk", _junk(rng, n), None, (None, "字段1"),
             "a mix of phones, e-mails, names, words and placeholders"),
        Case("hard/dirty_emails", emails, "email", ("邮箱", "E-mail Address"),
             "10% placeholders"),
        Case("hard/taiwan_permit_digits", taiwan, "tw_permit", ("台胞证号码",),
             "bare 8-digit 台胞证 numbers: only the header tells"),
        Case("hard/taiwan_digits_bare", taiwan, None, (None,), "8 digits, no header"),
        Case("hard/passports_under_id_header", passports(rng, n), "cn_passport", ("证件号码",),
             "passport numbers under a generic ID-document header"),
        Case("hard/empty_phone_column", [None] * n, None, ("手机号",),
             "header only, no values"),
    ]  # fmt: skip


def everything(seed: int, sizes: tuple[int, ...], hard_rows: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    return generated_cases(rng, sizes) + hard_cases(rng, hard_rows)
