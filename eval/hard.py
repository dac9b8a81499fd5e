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
from intl_cases import intl_cases

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
        str(int(rng.choice([100, 112, 120, 129, 140, 141, 144, 146, 148, 154, 160, 161, 163]))) + d
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
        mob if rng.random() < 0.7 else land
        for mob, land in zip(mobile_formats(rng, n), landlines(rng, n), strict=True)
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
        *label_cases(n),
    ]  # fmt: skip


def label_cases(n: int) -> list[Case]:
    """Categories (type ``label``); their own generator, so the other cases stay as they were."""
    rng = np.random.default_rng(14)
    tiers = ["普通会员", "银卡", "金卡", "白金卡", "钻石会员"]
    weights = [0.5, 0.25, 0.15, 0.07, 0.03]
    levels = ["A类客户", "B类客户", "C类客户", "D类客户"]
    channels = ["线上商城", "线下门店", "电话订购", "微信小程序", "经销商"]
    return [
        Case("hard/member_tiers", [str(t) for t in rng.choice(tiers, n, p=weights)], "label",
             ("会员等级", "Membership Tier", None),
             "金卡/银卡/普通会员: a membership tier, not a card product nor free text"),
        Case("hard/member_tiers_vip", [f"VIP{int(k)}" for k in rng.integers(0, 8, n)], "label",
             ("会员级别", None), "VIP0 … VIP7"),
        Case("hard/customer_levels", [str(v) for v in rng.choice(levels, n)], "label",
             ("客户等级", None), "the seller's own levels: a few labels repeated throughout"),
        Case("hard/channels_bare", [str(v) for v in rng.choice(channels, n)], "label", (None,),
             "a few short labels without a header: a category"),
    ]  # fmt: skip


# Given-name characters outside the synth generator's lists (and mostly outside the
# classifier's list too): real customer bases have a long tail of rarer characters.
RARE_GIVEN = (
    "澍鋆骐珩琮璟瑄琇珺玙瑀琎瑢璠昶旸晞曈暄杲柘栎桉梽棠楦榛槿檀芃苒茈荇莘菀萩蓁薏"
    "蘅翀翕翯皙矜砚祎禹秾筠篪籽绎缙罄翌耀聿舜芮苾荦菡萸葭蔚蕤藜虔衎衿谌谞赟跹辂迩"
    "郅醴钤铖锴镕阗陟隽雎霈靓韪颀飏馥骥鲲鹄麓黻"
)


def _rare_names(rng: Rng, n: int) -> list[str]:
    t = name_tables()
    sur = t.surname.to_list()
    pool = RARE_GIVEN + "".join(t.given.to_list())
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 3))
        given = "".join(pool[int(i)] for i in rng.integers(0, len(pool), k))
        out.append(sur[int(rng.integers(0, len(sur)))] + given)
    return out


def _dates(rng: Rng, n: int, lo: int, hi: int, layout: int) -> list[str]:
    out = []
    for day in rng.integers(lo, hi, n):
        d = np.datetime64(int(day), "D").astype(object)
        out.append([
            f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日",
            f"{d.year}{d.month:02d}{d.day:02d}", f"{d.year}.{d.month:02d}.{d.day:02d}",
        ][layout])  # fmt: skip
    return out


def _english_notes(rng: Rng, n: int) -> list[str]:
    parts = (
        ("Customer called about", "Customer asked about", "Follow-up on", "Complaint about"),
        ("a late delivery", "a damaged bottle", "the refund", "member points", "an invoice"),
        ("; will call back.", ", resolved.", ", escalated to after-sales.", ". Waiting for reply."),
    )
    return [" ".join(str(rng.choice(p)) for p in parts) for _ in range(n)]


def variant_cases(rng: Rng, n: int) -> list[Case]:
    """Real-world formatting: other layouts, padding and gaps, rare name characters."""
    padded = [f"  {m} " if i % 3 else None for i, m in enumerate(mobiles(rng, n))]
    short_addresses = [
        f"{a}{s}{int(rng.integers(1, 300))}号"
        f"{int(rng.integers(1, 30))}栋{int(rng.integers(101, 2500))}室"
        for a, s in zip(
            rng.choice(
                ["朝阳区", "海淀区", "南山区", "福田区", "天河区", "武侯区", "江北区", "鼓楼区"], n
            ),
            rng.choice(["建国路", "中山路", "人民大道", "科技园路", "解放街"], n),
            strict=True,
        )
    ]
    amounts = [f"¥{x / 100:,.2f}" for x in rng.integers(100, 1_000_000, n)]
    return [
        Case("variant/names_rare_characters", _rare_names(rng, n), "cn_name", (None, "姓名"),
             "given names with characters outside the common lists"),
        Case("variant/addresses_without_province", short_addresses, "cn_address", (None,),
             "district + road + number, no province or city"),
        Case("variant/birth_dates_slash", _dates(rng, n, -12000, 12000, 0), "date_of_birth",
             (None, "生日"), "1985/3/7 layout, text"),
        Case("variant/birth_dates_chinese", _dates(rng, n, -12000, 12000, 1), "date_of_birth",
             (None,), "1985年3月7日 layout"),
        Case("variant/event_dates_compact", _dates(rng, n, 19000, 20200, 2), "date",
             (None, "交易日期"), "20240131 layout, last few years"),
        Case("variant/event_dates_dotted", _dates(rng, n, 19000, 20200, 3), "date", (None,),
             "2024.01.31 layout"),
        Case("variant/amounts_yuan", amounts, "amount", (None, "支付金额"), "¥1,234.50 text"),
        Case("variant/padded_mobiles_with_gaps", padded, "cn_mobile", (None,),
             "surrounding spaces and a third missing"),
        Case("variant/english_notes", _english_notes(rng, n), "free_text", (None, "Comments"),
             "English free text"),
        Case("variant/gender_letters", [str(rng.choice(["M", "F"])) for _ in range(n)],
             "gender", (None, "Sex"), "M / F"),
    ]  # fmt: skip


def everything(seed: int, sizes: tuple[int, ...], hard_rows: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    return (
        generated_cases(rng, sizes)
        + hard_cases(rng, hard_rows)
        + variant_cases(rng, hard_rows)
        + intl_cases(hard_rows)
    )
