"""Free-text scanner: exact character offsets per type, hard negatives, overlaps, masking."""

from __future__ import annotations

import re

import polars as pl
import pytest

from dealvault.classify.freetext import mask_series, mask_text, scan, scan_series
from dealvault.classify.spans import SPAN_SCHEMA, Span, resolve_overlaps
from dealvault.errors import Invalid
from dealvault.synth.idnumbers import luhn_check_digit, ric_check_digit


def ric(first17: str) -> str:
    return first17 + ric_check_digit(first17)


def card(payload: str) -> str:
    return payload + luhn_check_digit(payload)


RIC = ric("11010519900307123")
RIC_X = "11010519491231002X"  # GB 11643 example, check character X
CARD = card("622202583998241520")  # 19-digit UnionPay debit
MOBILE = "13812345678"


def found(text: str) -> list[tuple[str, str]]:
    """(type, covered text) of every span, in order."""
    return [(s.pii_type, text[s.start : s.end]) for s in scan(text)]


def only_span(text: str, value: str, pii_type: str) -> Span:
    """The text has exactly one span, of ``pii_type``, exactly over ``value``."""
    spans = scan(text)
    start = text.index(value)
    assert [(s.start, s.end, s.pii_type) for s in spans] == [
        (start, start + len(value), pii_type)
    ], found(text)
    return spans[0]


def test_example_sentence_has_exact_character_offsets() -> None:
    text = f"客户张先生来电，手机{MOBILE}，身份证{RIC}，邮箱zhang.san@example.com。"
    spans = scan(text)
    got = [(s.pii_type, s.start, s.end) for s in spans]
    assert got == [
        ("cn_name", 2, 3),
        ("cn_mobile", text.index(MOBILE), text.index(MOBILE) + 11),
        ("cn_ric", text.index(RIC), text.index(RIC) + 18),
        ("email", text.index("zhang"), text.index("。")),
    ]
    # Offsets are characters (not UTF-8 bytes): every CJK character before counts once.
    assert text[spans[1].start : spans[1].end] == MOBILE
    assert all(0.0 < s.confidence <= 1.0 for s in spans)
    assert spans[0].confidence < spans[1].confidence  # a bare surname is a weak finding


@pytest.mark.parametrize(
    ("value", "pii_type", "before", "after"),
    [
        (RIC, "cn_ric", "客户提供身份证号", "用于核实身份"),
        (RIC_X, "cn_ric", "实名核验：", "。"),
        (RIC_X.lower(), "cn_ric", "证件", "已核验"),
        ("110105900307123", "cn_ric", "老身份证", "已作废"),
        (MOBILE, "cn_mobile", "请回电", "，谢谢"),
        ("138-1234-5678", "cn_mobile", "联系电话", "。"),
        ("138 1234 5678", "cn_mobile", "新号码", "已更新"),
        ("+86 138 1234 5678", "cn_mobile", "手机", "（微信同号）"),
        ("+8613812345678", "cn_mobile", "号码", "。"),
        ("0086-13812345678", "cn_mobile", "境外来电显示", "。"),
        ("19912345678", "cn_mobile", "客户", "来电"),
        ("010-62345678", "cn_landline", "座机", "，"),
        ("0571-88889999", "cn_landline", "公司电话", "转人工"),
        ("(0755)86001234", "cn_landline", "办公室", "。"),
        ("zhang.san@example.com", "email", "发票请发送至邮箱", "。"),
        ("13812345678@qq.com", "email", "邮件至", "，已发送"),
        (CARD, "bank_card", "退款到", "，请核对"),
        ("6222 0258 3998 2415 206", "bank_card", "银行卡号：", "（工行）"),
        (card("436742123456789"), "bank_card", "信用卡", "已冻结"),
        ("91350100M000100Y43", "uscc", "开票信息：统一社会信用代码", "，抬头某某公司"),
        ("E12345678", "cn_passport", "护照号码", "，有效期至2030年"),
        ("EA1234567", "cn_passport", "护照", "。"),
        ("C12345678", "cn_travel_permit", "港澳通行证", "。"),
        ("192.168.10.20", "ipv4", "登录IP为", "，异地登录"),
        ("2001:db8::8a2e:370:7334", "ipv6", "登录地址", "。"),
        ("京A12345", "license_plate", "车牌", "的车主"),
        ("粤BD12345", "license_plate", "新能源车", "已登记"),
        ("+44 20 7946 0958", "intl_phone", "英国客户电话", "，时差8小时"),
        ("GB82WEST12345698765432", "iban", "境外账户", "，请核实"),
        ("北京市朝阳区建国路88号", "cn_address", "客户要求改送到", "，周末送"),
        (
            "吉林省长春市宽城区望江东路216号福苑家园16栋2单元3302室",
            "cn_address",
            "收货地址：",
            "。",
        ),
        ("杭州市西湖区文三路478号", "cn_address", "寄到", "，"),
        ("文三路478号", "cn_address", "送货地址：", "，"),
    ],
)
def test_each_type_is_found_with_exact_offsets(
    value: str, pii_type: str, before: str, after: str
) -> None:
    text = f"{before}{value}{after}"
    only_span(text, value, pii_type)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("联系人：王小明，已回访", "王小明"),
        ("收货人李娜电话未接", "李娜"),
        ("今天欧阳晓明先生来店", "欧阳晓明"),
        ("请转告陈经理", "陈"),
        ("客户张伟来电", "张伟"),
    ],
)
def test_names_after_cues_and_before_titles(text: str, name: str) -> None:
    span = only_span(text, name, "cn_name")
    assert span.confidence <= 0.85  # names are weaker findings than checked numbers


@pytest.mark.parametrize(
    "text",
    [
        # a wrong check digit is a possible ID (test_freetext_context.py)
        f"身份证{ric('11010519900230123')}",  # 30 February
        f"身份证{ric('99010519900307123')}",  # no such province
        "订单号20240101123已发货",  # 11 digits, no mobile prefix 202
        "订单号13812345678已发货",  # a mobile-shaped order number
        "流水号2024013812345678901，请核对",  # digits inside a longer run
        "编号138123456789",  # 12 digits
        "电话1381234567",  # 10 digits
        "数量13812345678678件",
        f"订单号{card('202401011234567')}",  # Luhn-valid order number
        f"会员号{card('123456789012345')}",  # Luhn-valid, no card issuer
        f"退款到{CARD[:-1]}{(int(CARD[-1]) + 1) % 10}",  # Luhn fails
        "版本1.2.3.4已发布",
        "金额1380.00元，时间10:30:00，日期2024-01-01",
        "客户来电反映快递员态度不好，未经同意放在快递柜。",
        "客户高兴地表示满意，客户要求开具增值税普通发票。",
        "客户投诉，客户留言称，客户致电客服，客户在线咨询。",
        "客户周一来电，会员余额不足，用户方便时回电，客户黄金会员。",
        "请产品经理、项目经理和维修师傅跟进，总经理已批准。",
        "快递单号SF1234567890123",
        "产品型号ABC123，规格500ml",
        "北京市朝阳区的客户",  # a district alone is not an address
        "",
    ],
)
def test_hard_negatives_report_nothing(text: str) -> None:
    assert scan(text) == [], found(text)


def test_separated_numbers_are_split_into_their_parts() -> None:
    text = f"号码{MOBILE} 13912345678，下单2024-01-01 {MOBILE}"
    assert found(text) == [
        ("cn_mobile", MOBILE),
        ("cn_mobile", "13912345678"),
        ("cn_mobile", MOBILE),
    ]


def test_letters_glued_to_a_number() -> None:
    assert found(f"ID{RIC}") == [("cn_ric", RIC)]
    text = f"tel{MOBILE}"
    assert found(text) == [("cn_mobile", MOBILE)]
    weak = scan(f"abc{MOBILE}")  # no cue: still reported, with less confidence
    assert [s.pii_type for s in weak] == ["cn_mobile"]
    assert weak[0].confidence < scan(text)[0].confidence
    assert scan(f"SN{MOBILE}X") == []  # part of a product code


def test_overlapping_candidates_longest_wins() -> None:
    # The mobile number is the local part of the e-mail: one span, the e-mail.
    assert found(f"邮箱{MOBILE}@163.com") == [("email", f"{MOBILE}@163.com")]
    # A plate-like prefix in front of a passport number.
    assert found("办理了新E12345678护照") == [("cn_passport", "E12345678")]
    spans = [Span(0, 11, "cn_mobile", 0.9), Span(0, 20, "email", 0.8), Span(3, 5, "x", 1.0)]
    assert resolve_overlaps(spans) == [Span(0, 20, "email", 0.8)]
    assert resolve_overlaps([Span(0, 4, "a", 0.5), Span(2, 6, "b", 0.9)]) == [Span(2, 6, "b", 0.9)]


def test_full_width_digits() -> None:
    text = "手机１３８１２３４５６７８，谢谢"
    assert [(s.pii_type, s.start, s.end) for s in scan(text)] == [("cn_mobile", 2, 13)]
    assert mask_text(text, scan(text)) == "手机138****5678，谢谢"


def test_masked_forms_keep_shape_and_surroundings() -> None:
    text = (
        f"客户张伟明来电，手机{MOBILE}，身份证{RIC_X}，邮箱alice@example.com，"
        f"卡号{CARD}，座机010-62345678，地址北京市朝阳区建国路88号3号楼201室。"
    )
    masked = mask_text(text, scan(text))
    assert masked == (
        "客户张*明来电，手机138****5678，身份证110105********002X，邮箱a***@example.com，"
        f"卡号**** **** **** {CARD[-4:]}，座机010-****5678，地址北京市朝阳区***。"
    )


@pytest.mark.parametrize(
    "value",
    [RIC, MOBILE, "+86 138 1234 5678", CARD, "6222 0258 3998 2415 206", "E12345678"],
)
def test_masking_never_leaves_the_original_value(value: str) -> None:
    text = f"客户资料：{value}。" if value != "E12345678" else f"护照{value}。"
    masked = mask_text(text, scan(text))
    digits = re.sub(r"\D", "", value)
    assert value not in masked
    assert digits not in re.sub(r"\D", "", masked)
    assert masked.startswith(text[:2]) and masked.endswith("。")


def test_mask_text_handles_unsorted_and_overlapping_spans() -> None:
    text = f"手机{MOBILE}"
    spans = [Span(2, 13, "cn_mobile", 0.9), Span(4, 6, "cn_name", 0.5)]
    assert mask_text(text, list(reversed(spans))) == "手机138****5678"
    assert mask_text(text, []) == text


def test_scan_series_columns_nulls_and_empties() -> None:
    texts = pl.Series("备注", [f"手机{MOBILE}", None, "", "无", f"{RIC}，{RIC}"])
    frame = scan_series(texts=texts)
    assert frame.schema == pl.Schema(SPAN_SCHEMA)
    assert frame.select("row", "start", "end", "pii_type").rows() == [
        (0, 2, 13, "cn_mobile"),
        (4, 0, 18, "cn_ric"),
        (4, 19, 37, "cn_ric"),
    ]
    masked = mask_series(texts=texts)
    assert masked.name == "备注"
    assert masked.to_list() == [
        "手机138****5678",
        None,
        "",
        "无",
        "110105********1239，110105********1239".replace("1239", RIC[-4:]),
    ]
    assert texts[0] == f"手机{MOBILE}"  # the input is not modified


def test_scan_series_edge_inputs() -> None:
    empty = scan_series(texts=pl.Series("t", [], dtype=pl.String))
    assert empty.height == 0 and empty.schema == pl.Schema(SPAN_SCHEMA)
    nulls = scan_series(texts=pl.Series("t", [None, None]))
    assert nulls.height == 0
    numbers = scan_series(texts=pl.Series("t", [13812345678, 1]))
    assert numbers.select("row", "pii_type").rows() == [(0, "cn_mobile")]
    assert mask_series(texts=pl.Series("t", [None], dtype=pl.String)).to_list() == [None]


def test_errors_never_quote_the_text() -> None:
    text = f"手机{MOBILE}"
    with pytest.raises(Invalid) as outside:
        mask_text(text, [Span(0, 40, "cn_mobile", 0.9)])
    with pytest.raises(Invalid) as order:
        Span(13, 2, "cn_mobile", 0.9)
    with pytest.raises(Invalid) as unicode_error:
        scan(f"{MOBILE}\ud800")
    with pytest.raises(Invalid) as dtype_error:
        scan_series(texts=pl.Series("t", [{"phone": MOBILE}]))
    for exc in (outside, order, unicode_error, dtype_error):
        message = str(exc.value)
        assert MOBILE not in message and "5678" not in message


def test_nul_and_control_characters_keep_offsets() -> None:
    text = f"a\x00b\x01手机{MOBILE}\x00"
    assert [(s.start, s.end) for s in scan(text)] == [(6, 17)]
    assert mask_text(text, scan(text)) == "a\x00b\x01手机138****5678\x00"


def test_dense_record_with_many_types() -> None:
    text = (
        "2024-03-01 10:30 客户孟薇英来电，订单号20240000000012，金额128.50元，数量3件，"
        "收货地址天津市和平区振兴西路216号，手机15919651963，银行卡6225884313940580。"
        "处理人工号A1023，已回访。"
    )
    assert found(text) == [
        ("cn_name", "孟薇英"),
        ("cn_address", "天津市和平区振兴西路216号"),
        ("cn_mobile", "15919651963"),
        ("bank_card", "6225884313940580"),
    ]
