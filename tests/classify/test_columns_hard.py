"""Hard cases: wrong checksums, phone-like order numbers, order ids vs cards, common words."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dealvault.classify.columns import classify_column
from dealvault.classify.detectors import detect
from dealvault.synth import DEFAULT_AS_OF
from dealvault.synth.idnumbers import MOBILE_PREFIXES, luhn_check_digit, ric_check_digit
from dealvault.synth.regions import region_table

RNG_SEED = 20250630


def _ids(n: int, *, wrong: float) -> list[str]:
    rng = np.random.default_rng(RNG_SEED)
    regions = region_table()
    out = []
    for i in range(n):
        year = int(rng.integers(1960, 2005))
        code = int(regions.codes[regions.sample_for_years(rng, np.array([year]))[0]])
        month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
        body = f"{code}{year}{month:02d}{day:02d}{i % 1000:03d}"
        check = ric_check_digit(body)
        if rng.random() < wrong:
            check = "0123456789X"[("0123456789X".index(check) + 3) % 11]
        out.append(body + check)
    return out


def _mobiles(n: int) -> list[str]:
    rng = np.random.default_rng(RNG_SEED + 1)
    return [
        f"{int(rng.choice(MOBILE_PREFIXES))}{int(rng.integers(0, 10**8)):08d}" for _ in range(n)
    ]


def _classify(values: list[str] | pl.Series, name: str | None = None) -> str | None:
    series = values if isinstance(values, pl.Series) else pl.Series(values)
    return classify_column(name=name, values=series, today=DEFAULT_AS_OF).pii_type


def test_wrong_checksum_ids_are_not_cn_ric() -> None:
    wrong = _ids(500, wrong=1.0)
    assert not detect("cn_ric", pl.Series(wrong)).any()
    assert _classify(wrong) != "cn_ric"
    assert _classify(wrong, "编号") != "cn_ric"


def test_header_alone_does_not_validate_but_keeps_column_sensitive() -> None:
    got = classify_column(name="身份证号", values=pl.Series(_ids(300, wrong=1.0)))
    assert got.pii_type is None
    assert got.sensitive and got.evidence["share.cn_ric"] == 0.0


def test_a_few_typos_do_not_hide_an_id_column() -> None:
    assert _classify(_ids(500, wrong=0.05)) == "cn_ric"


def test_sequential_order_numbers_are_not_mobiles() -> None:
    orders = [str(13_800_000_001 + i) for i in range(2_000)]
    assert detect("cn_mobile", pl.Series(orders)).all()  # every value alone looks like a mobile
    assert _classify(orders, "订单号") == "order_id"
    assert _classify(orders, "order_no") == "order_id"
    assert _classify(orders) is None


def test_random_eleven_digit_numbers_are_not_mobiles() -> None:
    rng = np.random.default_rng(RNG_SEED + 2)
    numbers = [str(x) for x in rng.integers(10_000_000_000, 20_000_000_000, 2_000)]
    assert _classify(numbers) is None
    assert _classify(numbers, "单号") == "order_id"
    bad_prefix = [f"{p}{i:08d}" for i, p in enumerate([140, 154, 120, 100] * 250)]
    assert not detect("cn_mobile", pl.Series(bad_prefix)).any()


def test_mobiles_in_assorted_layouts_and_as_numbers() -> None:
    m = _mobiles(400)
    layouts = [[f"+86 {x[:3]} {x[3:7]} {x[7:]}", f"0086{x}", f"{x[:3]}-{x[3:7]}-{x[7:]}"][i % 3]
               for i, x in enumerate(m)]  # fmt: skip
    assert _classify(layouts) == "cn_mobile"
    assert _classify(pl.Series([int(x) for x in m])) == "cn_mobile"
    assert _classify(m, "Mobile Phone") == "cn_mobile"


def test_order_ids_with_luhn_digits_are_not_bank_cards() -> None:
    serial = [(b := str(622_202_000_000_000_000 + i)) + luhn_check_digit(b) for i in range(1_000)]
    assert detect("bank_card", pl.Series(serial)).all()  # per value: a valid UnionPay card
    assert _classify(serial) is None
    assert _classify(serial, "交易流水号") == "order_id"
    dated = [(b := f"20240615{i:07d}") + luhn_check_digit(b) for i in range(1_000)]
    assert not detect("bank_card", pl.Series(dated)).any()  # no issuer range starts 20
    assert _classify(dated, "order_no") == "order_id"


def test_random_digits_are_not_cards() -> None:
    rng = np.random.default_rng(RNG_SEED + 3)
    ids = [f"62{int(x):017d}" for x in rng.integers(0, 10**17, 1_000)]
    assert 0.05 < detect("bank_card", pl.Series(ids)).mean() < 0.15  # Luhn passes 1 in 10
    assert _classify(ids) is None


def test_cards_unionpay_vs_international() -> None:
    rng = np.random.default_rng(RNG_SEED + 4)
    bodies = [f"622202{int(x):012d}" for x in rng.integers(0, 10**12, 300)]
    unionpay = [b + luhn_check_digit(b) for b in bodies]
    grouped = [" ".join(c[i : i + 4] for i in range(0, 19, 4)) for c in unionpay]
    visa = [(b := f"4{int(x):014d}") + luhn_check_digit(b) for x in rng.integers(0, 10**14, 300)]
    assert _classify(unionpay) == "bank_card"
    assert _classify(grouped) == "bank_card"
    assert _classify(visa) == "credit_card"
    assert _classify(visa, "银行卡号") == "bank_card"  # ... unless the header says so
    assert classify_column(name=None, values=pl.Series(unionpay)).evidence.get(
        "unionpay_share", 1.0
    ) == pytest.approx(1.0)


COMMON = ("王者", "高兴", "黄金", "白金", "金牌", "马上", "方便", "高级",
          "江湖", "安全", "常规", "文化", "时尚", "温馨", "包邮", "高端")  # fmt: skip


def test_common_words_are_not_names() -> None:
    rng = np.random.default_rng(RNG_SEED + 5)
    words = [COMMON[int(i)] for i in rng.integers(0, len(COMMON), 2_000)]
    assert not detect("cn_name", pl.Series(["王者", "高兴", "黄金"])).any()
    assert _classify(words, "产品名称") == "product"
    assert _classify(words) != "cn_name"
    products = [f"{w}酸奶 250ml" for w in words]
    assert _classify(products) == "product"


def test_names_with_rare_characters_still_count_when_distinct() -> None:
    rng = np.random.default_rng(RNG_SEED + 6)
    sur = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
    rare = "澍鋆骐珩琮璟瑄琇珺玙瑀琎瑢璠昶旸晞曈暄杲柘栎桉梽棠楦榛槿檀芃苒茈荇莘菀"
    common = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
    pool = rare + common
    names = [
        sur[int(rng.integers(0, len(sur)))]
        + "".join(pool[int(j)] for j in rng.integers(0, len(pool), int(rng.integers(1, 3))))
        for _ in range(2_000)
    ]
    assert _classify(names) == "cn_name"


def test_junk_and_mixed_columns() -> None:
    rng = np.random.default_rng(RNG_SEED + 7)
    pools = [_mobiles(1_000), [f"u{i}@example.com" for i in range(1_000)], ["无", "N/A", "-"] * 334]
    junk = [pools[int(rng.integers(0, 3))][i] for i in range(1_000)]
    assert _classify(junk) is None
    landlines = [f"0755-8{i:07d}"[:13] for i in rng.integers(0, 10**7, 300)]
    mixed = _mobiles(700) + landlines
    assert _classify(mixed, "联系电话") == "cn_mobile"
    assert _classify(landlines, "座机") == "cn_landline"


def test_taiwan_permit_digits_need_the_header() -> None:
    rng = np.random.default_rng(RNG_SEED + 8)
    digits = [f"{int(x):08d}" for x in rng.integers(0, 10**8, 500)]
    assert _classify(digits, "台胞证号码") == "tw_permit"
    assert _classify(digits) is None
    got = classify_column(name="台胞证号码", values=pl.Series(digits))
    assert got.sensitive and got.evidence["header_only"] == 1.0 and got.confidence < 0.5


def test_customer_numbers_are_not_hk_permits() -> None:
    ids = [f"C{i:08d}" for i in range(1, 3_001)]
    assert detect("hk_macau_permit", pl.Series(ids)).all()  # C + 8 digits is a permit layout
    assert _classify(ids) == "customer_id"
