"""Free text, numbers in context: order lists, local landlines, separated mobiles,
disguised e-mails and ID numbers with a wrong check digit (all values invented)."""

from __future__ import annotations

import polars as pl
import pytest

from dealvault.classify.freetext import mask_series, mask_text, scan, scan_series
from dealvault.synth.idnumbers import ric_check_digit

ID17 = "11010519900307123"  # 110105 朝阳区, born 1990-03-07


def wrong_ric(first17: str) -> str:
    good = ric_check_digit(first17)
    return first17 + next(c for c in "0123456789" if c != good)


def found(text: str) -> list[tuple[str, str]]:
    """(type, covered text) of every span, in order."""
    return [(s.pii_type, text[s.start : s.end]) for s in scan(text)]


def masked(text: str) -> str:
    return mask_text(text, scan(text))


# --- list continuations after order, parcel and invoice cues ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "订单号：13812345678、13987654321",
        "订单号 13812345678，13987654321，15012345678 已合并发货",
        "单号13812345678/13987654321",
        "运单号：SF1234567890、13812345678 和 13987654321",
        "快递单号 75312345678901；13812345678",
        "包裹13812345678已签收",
        "快件 13812345678 退回",
        "包裹：13812345678、13987654321 两件",
        "发票代码：044031900211",  # 12 digits: 0440 + 31900211 has a landline's shape
        "发票代码 044031900211、044031900311",
        "发票号码：13812345678",
        "Order no. 13812345678, 13987654321",
    ],
)
def test_numbers_listed_after_order_cues_are_not_phones(text: str) -> None:
    assert found(text) == [], found(text)


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("订单号 20240101，手机13812345678", ["13812345678"]),  # a new cue breaks the list
        ("订单号A123已发货，联系13812345678", ["13812345678"]),
        ("order 12345 call 13812345678", ["13812345678"]),  # a word breaks the list
        ("包裹请联系13812345678", ["13812345678"]),  # the cue is not right before
        ("电话 13812345678、13987654321", ["13812345678", "13987654321"]),  # a phone list
        ("座机010-62345678，订单号A1", ["010-62345678"]),
    ],
)
def test_phones_next_to_order_numbers_are_still_found(text: str, phones: list[str]) -> None:
    assert [v for _, v in found(text)] == phones


def test_a_list_far_from_its_cue_is_still_a_list() -> None:
    numbers = "、".join(f"1381234{i:04d}" for i in range(10))
    assert found(f"订单号：{numbers}") == []


# --- landlines without an area code --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "mask"),
    [
        ("电话 8765 4321", "8765 4321", "电话 *****4321"),
        ("座机：62345678", "62345678", "座机：****5678"),
        ("请拨打 6234-5678 转前台", "6234-5678", "请拨打 *****5678 转前台"),
        ("固话2345678", "2345678", "固话***5678"),
        ("Tel: 8765 4321", "8765 4321", "Tel: *****4321"),
    ],
)
def test_local_landlines_after_a_phone_cue(text: str, value: str, mask: str) -> None:
    assert found(text) == [("cn_landline", value)]
    assert masked(text) == mask


@pytest.mark.parametrize(
    "text",
    [
        "62345678",  # no cue
        "金额 8765 4321 元",
        "编号62345678",
        "会员号码：62345678",  # 号码 alone is not a landline cue
        "电话 12345678",  # local numbers do not start with 0 or 1
        "电话 0234567",
        "电话 623456789",  # 9 digits
    ],
)
def test_short_numbers_without_a_landline_cue_are_not_phones(text: str) -> None:
    assert found(text) == [], found(text)


# --- mobiles with separators ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["138.1234.5678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678"]
)
def test_mobiles_written_with_separators(value: str) -> None:
    text = f"客户留了{value}，晚上联系"
    assert found(text) == [("cn_mobile", value)]
    assert "138****5678" in masked(text)


@pytest.mark.parametrize(
    "text",
    [
        "版本号 1.2.3.4",
        "138.12.5678",  # not 3-4-4
        "120.1234.5678",  # 120 is no mobile prefix
        "1381.234.5678",
    ],
)
def test_dotted_numbers_that_are_not_mobiles(text: str) -> None:
    assert [t for t, _ in found(text) if t == "cn_mobile"] == [], found(text)


# --- disguised e-mail addresses ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "zhang.san#example.com",
        "zhang.san(at)example.com",
        "zhang.san（at）example.com",
        "zhang.san [at] example [dot] com",
        "zhang.san[AT]mail[DOT]example[DOT]invalid",
        "zhang.san＠example.com",  # full-width at sign
        "zhang.san＃example.com",  # full-width hash
    ],
)
def test_disguised_emails_are_found_and_masked_like_emails(value: str) -> None:
    text = f"邮箱：{value}，请回复"
    assert found(text) == [("email", value)]
    out = masked(text)
    assert value not in out and "zhang" not in out
    assert out.startswith("邮箱：z***@") and out.endswith("，请回复")
    assert "example" in out  # the domain is kept, dots restored


def test_a_disguised_email_keeps_a_longer_domain_whole() -> None:
    text = "请发到 li [at] example.invalid 谢谢"
    assert found(text) == [("email", "li [at] example.invalid")]
    assert masked(text) == "请发到 l***@example.invalid 谢谢"


@pytest.mark.parametrize(
    "text",
    [
        "话题#年货节",
        "第#3号柜",
        "issue#1234.5",
        "参见 item#abc.def",  # def is not a top-level domain we accept after #
        "meet me at example dot com",  # bare words are too common to be a disguise
        "a(at)b",
    ],
)
def test_hash_and_at_words_that_are_not_emails(text: str) -> None:
    assert [t for t, _ in found(text) if t == "email"] == [], found(text)


# --- ID numbers with a wrong check digit ---------------------------------------------------


def test_a_wrong_check_digit_is_a_possible_id() -> None:
    value = wrong_ric(ID17)
    text = f"身份证{value}已核验"
    spans = scan(text)
    assert [(s.pii_type, text[s.start : s.end]) for s in spans] == [("cn_ric_invalid", value)]
    assert spans[0].confidence < 0.9  # weaker than a validated ID number
    assert masked(text) == f"身份证110105********{value[-4:]}已核验"
    # never a company code (USCC), even without a cue
    assert found(f"号码 {value}") == [("cn_ric_invalid", value)]


def test_a_valid_id_is_still_cn_ric() -> None:
    value = ID17 + ric_check_digit(ID17)
    assert found(f"身份证{value}") == [("cn_ric", value)]


@pytest.mark.parametrize(
    "first17",
    [
        "99010519900307123",  # no such region
        "11010519900230123",  # 30 February
        "11010529900307123",  # born in the future
        "11010518000307123",  # before 1900
    ],
)
def test_wrong_check_digit_needs_a_region_and_birth_date(first17: str) -> None:
    text = f"编号{wrong_ric(first17)}"
    assert [t for t, _ in found(text) if t.startswith("cn_ric")] == [], found(text)


def test_an_order_number_shaped_like_an_id_is_not_a_possible_id() -> None:
    assert found(f"订单号：{wrong_ric(ID17)}") == []


def test_series_and_text_agree_on_the_new_findings() -> None:
    texts = [
        "订单号：13812345678、13987654321",
        "座机：62345678",
        "138.1234.5678",
        "a(at)example.com",
        f"身份证{wrong_ric(ID17)}",
        None,
    ]
    frame = scan_series(texts=pl.Series(texts))
    assert frame["pii_type"].to_list() == ["cn_landline", "cn_mobile", "email", "cn_ric_invalid"]
    assert frame["row"].to_list() == [1, 2, 3, 4]
    out = mask_series(texts=pl.Series(texts)).to_list()
    assert out[0] == texts[0]
    assert out[1:5] == [
        "座机：****5678",
        "138****5678",
        "a***@example.com",
        "身份证110105" + "*" * 8 + wrong_ric(ID17)[-4:],
    ]
    assert out[5] is None


# --- person references: a surname with a title, and words that only look like one ---------


@pytest.mark.parametrize(
    ("text", "name"),
    [("李总说下周签约。", "李"), ("王先生来电。", "王"), ("张总经理已确认。", "张")],
)
def test_a_surname_before_a_title_is_a_person(text: str, name: str) -> None:
    assert ("cn_name", name) in found(text)


@pytest.mark.parametrize(
    "text", ["蒙古总统已抵达。", "该党总书记发表讲话。", "他是第七任总统。", "公司总部在上海。"]
)
def test_words_made_with_zong_are_not_a_title(text: str) -> None:
    assert not [t for t, _ in found(text) if t == "cn_name"]


def test_an_address_the_model_starts_earlier_than_the_region_names_is_kept_whole() -> None:
    text = "江东区沧海路975号绿城绿园大厦1455室"
    addresses = [v for t, v in found(text) if t == "cn_address"]
    assert addresses and addresses[0].startswith("江东区"), addresses
