"""Free-text PII scanner: vectorised regex candidates, validated spans, shape-keeping masks."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from datetime import date
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import phonenumbers
import polars as pl
from stdnum import iban as stdnum_iban
from stdnum.cn import uscc as stdnum_uscc

from dealvault.classify.spans import (
    BANK_CARD,
    CN_ADDRESS,
    CN_LANDLINE,
    CN_MOBILE,
    CN_NAME,
    CN_PASSPORT,
    CN_RIC,
    CN_TRAVEL_PERMIT,
    EMAIL,
    IBAN,
    INTL_PHONE,
    IPV4,
    IPV6,
    LICENSE_PLATE,
    SPAN_SCHEMA,
    USCC,
    Span,
    resolve_overlaps,
    spans_from_frame,
    spans_to_frame,
)
from dealvault.errors import Invalid
from dealvault.synth.idnumbers import MOBILE_PREFIXES, RIC_CHECK_CHARS, RIC_WEIGHTS
from dealvault.synth.names import name_tables
from dealvault.synth.regions import read_loc_dat

# ---------------------------------------------------------------------------------------
# Candidate patterns (Rust regex syntax: no look-around, leftmost-first alternation).
#
# Tokens are matched maximally (a digit run is never cut inside a longer run), so "not
# inside a longer number" needs no look-around; validation happens afterwards on the
# candidates only.

_EMAIL_RE: Final = (
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"
)
_IPV6_RE: Final = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
_DOTTED_RE: Final = r"[0-9]+(?:\.[0-9]+)+"
_PLATE_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_RE: Final = f"[{_PLATE_PROVINCES}][A-Z][·•・]?[0-9A-Z]+[挂学警港澳]?"
_PAREN_PHONE_RE: Final = r"[(（]0[1-9][0-9]{1,2}[)）][ \-]?[0-9]{7,8}"
_ALNUM_RE: Final = r"[0-9A-Z]*[A-Z][0-9A-Z]*"
_NUM_RE: Final = r"\+?[0-9]+(?:[ \-][0-9]+)*[Xx]?"
_TOKEN_RE: Final = "|".join(
    (_EMAIL_RE, _IPV6_RE, _DOTTED_RE, _PLATE_RE, _PAREN_PHONE_RE, _ALNUM_RE, _NUM_RE)
)
_MIN_TOKEN: Final = 6
_MIN_PHONE_DIGITS: Final = 11  # no number-based type has fewer digits
_GROUP_RE: Final = r"\+?[0-9]+[Xx]?"  # digit groups of a separated number token

# Shapes of validated token types (checked on the candidate string ``m`` or ``norm``,
# ``norm`` being ``m`` without spaces, dashes and parentheses).
_RIC18_SHAPE: Final = r"^[1-9][0-9]{5}[ \-]?[0-9]{8}[ \-]?[0-9]{3}[0-9Xx]$"
_RIC15_SHAPE: Final = r"^[1-9][0-9]{14}$"
_MOBILE_SHAPE: Final = (
    r"^(?:(?:\+86|0086|86)[ \-]?)?1[3-9][0-9]"
    r"(?:[0-9]{8}|[ \-][0-9]{4}[ \-][0-9]{4}|[0-9]{4}[ \-][0-9]{4}|[ \-][0-9]{8})$"
)
_LANDLINE_SHAPE: Final = (
    r"^(?:[(（]?(?:010|02[0-9])[)）]?[ \-]?[2-9][0-9]{7}"
    r"|[(（]?0[3-9][0-9]{2}[)）]?[ \-]?[2-9][0-9]{6,7})(?:-[0-9]{1,5})?$"
)
_CARD_SHAPE: Final = r"^(?:[0-9]{16,19}|[0-9]{4}(?:[ \-][0-9]{4}){3}(?:[ \-][0-9]{1,3})?)$"
_USCC_SHAPE: Final = r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$"
_PASSPORT_SHAPE: Final = r"^(?:[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E?[0-9]{7})$"
_PERMIT_SHAPE: Final = r"^(?:C[0-9]{8}|C[A-HJ-NP-Z][0-9]{7}|L[0-9]{8}|[HM][0-9]{8}(?:[0-9]{2})?)$"
# Issuer prefixes and lengths: UnionPay 62 / 60 / 65 / 9[45] (16-19), Visa 4 (16, 19),
# Mastercard 5[1-5] / 2[2-7] (16), JCB 35 (16-19).
_CARD_ISSUER: Final = (
    r"^(?:(?:62|60|65|9[45]|35)[0-9]{14,17}|4[0-9]{15}|4[0-9]{18}|(?:5[1-5]|2[2-7])[0-9]{14})$"
)
_IBAN_SHAPE: Final = r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4_SHAPE: Final = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"
_PLATE_SHAPE: Final = (
    f"^[{_PLATE_PROVINCES}][A-HJ-NP-Z][·•・]?"
    r"(?:[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]|[DF][A-HJ-NP-Z0-9][0-9]{4}|[0-9]{5}[DF])$"
)
_NEW_ENERGY_PLATE: Final = r"^.[A-Z][·•・]?(?:[DF][A-HJ-NP-Z0-9][0-9]{4}|[0-9]{5}[DF])$"

# Context cues, matched against the ~10 characters before a candidate.
_CONTEXT_CHARS: Final = 10
_ORDER_CUE: Final = (
    r"(?:订单|单号|编号|流水|运单|快递|物流|工单|货号|型号|批次|发票号|券码|验证码|序列号|条码"
    r"|会员号|会员卡|积分卡|购物卡|礼品卡|储值卡|订单ID|(?i:order|no\.?|sn|sku))[号码]?[^0-9\p{Han}]{0,3}$"
)
_CARD_CUE: Final = r"(?:卡号|银行卡|储蓄卡|信用卡|借记卡|账号|帐号|账户|帐户|卡)[^0-9]{0,5}$"
_PHONE_CUE: Final = (
    r"(?:电话|手机|号码|致电|拨打|来电|联系|热线|座机|回电|短信|微信|(?i:tel|phone|mobile|mob))"
    r"[^0-9]{0,5}$"
)
_ID_CUE: Final = r"(?:身份证|证件|身份|(?i:id))[^0-9]{0,6}$"
_DOC_CUE: Final = r"(?:护照|通行证|回乡证|台胞证|证件|签证|(?i:passport))[^0-9A-Z]{0,6}$"
_VERSION_CUE: Final = r"(?:版本|(?i:version|ver\.?|v))[^0-9]{0,3}$"
_PLATE_CUE: Final = r"(?:车牌|车辆|牌照|车)[^\p{Han}]{0,3}$"
_ASCII_LETTER_BEFORE: Final = r"[A-Za-z]$"
_ASCII_ALNUM_AFTER: Final = r"^[A-Za-z0-9]"

# Names: a cue word, or a title after the name (the cue and the title are not in the span).
_NAME_CUES: Final = (
    "联系人|收货人|收件人|寄件人|持卡人|开户人|客户|顾客|用户|会员|户主|姓名|名字|业主|家属"
    "|患者|车主|买家|本人"
)
_NAME_CUE_TAIL: Final = r"[:：\s]?(?:是|为|叫)?"
_TITLES: Final = (
    "先生|女士|小姐|太太|夫人|老师|师傅|经理|总监|主任|阿姨|老板|律师|医生|同学|大爷|大妈|总"
)
# Surnames beyond the synthetic generator's list; characters that are also very common
# words right after a cue (来, 要, 在, 和, ...) are deliberately left out.
_EXTRA_SURNAMES: Final = (
    "傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文庞樊兰殷施陶洪翟颜倪严牛温季俞章鲁葛伍韦尤毕聂焦柳邢"
    "岳齐梅莫庄辛管祝左涂谷祁舒耿牟卜詹苗凌费纪靳盛童欧甄项曲游裴席卫屈鲍覃霍翁隋甘景包柏宁柯阮"
    "桂闵柴冉房边辜吉饶刁瞿戚丘古米池滕晋苑邬臧宫苟褚廉简娄符奚穆党燕郎冀谈姬屠连郜晏栾郁蒙喻窦"
    "迟敖鄢冷卓艾蓝巩井仲虞卞封竺冼楚佟栗匡宗巫鞠桑荆谌岑胥蔺"
)
_COMPOUND_SURNAMES: Final = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "令狐", "慕容")
# Characters common in given names (the generator's lists are added at run time).
_EXTRA_GIVEN: Final = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志玉红梅文斌宇浩凯鹏飞鑫波俊帆帅旭龙"
    "阳峰东海亮成哲睿轩泽铭豪毅诚骏坤彬栋锋兵昊晨瑞弘晓思安春秋金云永立振德庆子若清嘉佳家林宁彦"
    "乐雨可艺逸书琳婷雪慧颖倩洁琪欣怡悦涵萱诗梦晶莉薇凤芬璐瑶妍婧露蕾月彤馨雅娇淑丹萍燕玲荣辉健"
    "光福祥胜利宏伦良贵富顺信义兴昌盛民友山仁宝寿虎鸿彪武君卫江河洪源泉川宾翔雄才远舟航琦皓然昕"
    "博锐恒晖朝达奇楠柏松竹菊莲荷茜蓉芸芝莎珊珍珠琼瑾璇岚娅婉媛嫣姗妮娴婕冰晴霏霖雯青翠碧素娥巧"
    "美惠爱聪颜宗政治仲元冬昭晗曦星辰宸沐沛淳瀚灏煜烨炜焕熙坚峻崇嵩岩钢锦钧银璋瑜琛琨璟珂玮禄喜"
    "吉康泰和礼智忠孝廉正耀彩旋通湖溪霜风雷三四"
)
# Two-character words that look like surname + given name right after a cue (a name is
# dropped when it is exactly one of them; 黄金丽 stays a name, 黄金 alone does not).
_NAME_STOPWORD_TEXT: Final = (
    "黄金 白天 安心 安静 关心 文明 高兴 方便 明天 宁静 江山 万一 高明 金华 龙华 平安 余华 白云"
    " 石林 文华 高新 华为 金龙 吉利 康泰 秦汉 宁波 吉林 海南 江西 云南 贵州 林芝 和平 古城 包子"
    " 宫廷 童年 严重 温和 牛奶 常见 尤其 简单 连续 燕麦 卓越 冷静 蓝天 兰州 项目 纪念 管理 邢台"
    " 周一 周三 周四 周末 于一 高一 高三 田园 金山 江东 江北 方正"
)
_NAME_STOPWORDS: Final = frozenset(_NAME_STOPWORD_TEXT.split())

# Addresses: gazetteer (province / prefecture / county names) plus a street-level detail.
_NUMBER: Final = r"(?:[0-9]{1,5}(?:[\-－][0-9]{1,5})?|[一二三四五六七八九十百零〇]{1,5})"
_UNIT: Final = r"(?:[\p{Han}A-Za-z]{0,10}?[0-9A-Za-z\-]{1,6}(?:号楼|栋|幢|座|单元|室|楼|层|号|户))*"
_STREET: Final = (
    r"[\p{Han}A-Za-z0-9]{0,15}?(?:大道|大街|路|街|巷|弄|胡同)" + _NUMBER + "(?:号|弄|巷)" + _UNIT
)
_COMMUNITY: Final = (
    r"[\p{Han}A-Za-z]{1,12}?(?:小区|花园|公寓|大厦|家园|新村|苑|广场|社区)"
    r"[0-9A-Za-z\-]{1,6}(?:号楼|栋|幢|座)" + _UNIT
)
_VILLAGE: Final = r"[\p{Han}]{0,8}?(?:镇|乡)[\p{Han}]{1,8}?村(?:[0-9一二三四五六七八九十]{1,3}组)?"
_ADDRESS_DETAIL: Final = f"(?:{_STREET}|{_COMMUNITY}|{_VILLAGE})"
_ADDRESS_CUES: Final = (
    "收货地址|家庭地址|联系地址|送货地址|邮寄地址|地址|住址|邮寄到|寄到|送到|送至|寄至|住在|家住|位于"
    "|改到|改为"
)
_ADDRESS_WINDOW: Final = 64  # characters after the region names searched for a detail
_ADDRESS_CUE_TAIL: Final = r"[:：\s]?(?:为|是|在)?"
_PLACEHOLDER_REGIONS: Final = frozenset({"市辖区", "县", "郊区", "矿区", "城区"})
_EXCLUDED_PROVINCE_CODES: Final = frozenset({"71", "81", "82"})

_MIN_DATE: Final = date(1900, 1, 1)
_STARS: Final = "*" * 64


# ---------------------------------------------------------------------------------------
# Reference data


def _alternation(words: set[str] | frozenset[str]) -> str:
    """Leftmost-first alternation of literal words, longest first (so it prefers them)."""
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


@cache
def _regions() -> tuple[pl.Series, pl.Series]:
    """Known 2-digit province codes and 6-digit region codes (any period) from loc.dat."""
    provinces, entries = read_loc_dat()
    return (
        pl.Series("province", sorted({*provinces, "83"}), dtype=pl.String),
        pl.Series("region", sorted(entries), dtype=pl.String),
    )


@cache
def _admin_pattern() -> str:
    """Alternation of province, prefecture and county names (and their short forms).

    A flat alternation of literals: the regex engine runs it as an Aho-Corasick search,
    which stays fast on address-heavy text (nested optional alternations did not).
    Consecutive names ("浙江省" "杭州市" "西湖区") are joined afterwards.
    """
    provinces, entries = read_loc_dat()
    names: set[str] = set()
    for code, name in provinces.items():
        if code in _EXCLUDED_PROVINCE_CODES:
            continue
        names.add(name)
        for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                names.add(name[: -len(suffix)])
                break
    for code, entry in entries.items():
        current = entry.current_name
        if (
            current is None
            or code[:2] in _EXCLUDED_PROVINCE_CODES
            or code.endswith("0000")
            or current in _PLACEHOLDER_REGIONS
            or "直辖" in current
            or len(current) < 2
        ):
            continue
        names.add(current)
        if code.endswith("00") and current.endswith("市") and len(current) >= 3:
            names.add(current[:-1])  # 杭州 for 杭州市
    return _alternation(names)


@cache
def _name_classes() -> tuple[str, str]:
    """Regex pieces for a surname and for one given-name character."""
    tables = name_tables()
    singles = {s for s in tables.surname.to_list() if len(s) == 1} | set(_EXTRA_SURNAMES)
    compounds = {s for s in tables.surname.to_list() if len(s) > 1} | set(_COMPOUND_SURNAMES)
    given = {g for g in tables.given.to_list() if len(g) == 1} | set(_EXTRA_GIVEN)
    surname = f"(?:{_alternation(compounds)}|[{''.join(sorted(singles))}])"
    return surname, f"[{''.join(sorted(given))}]"


@cache
def _cue_pattern() -> str:
    """Names after a cue, names before a title, and street addresses after a cue."""
    surname, given = _name_classes()
    cued_name = f"(?:{_NAME_CUES}){_NAME_CUE_TAIL}{surname}{given}{{1,2}}"
    titled_name = f"{surname}{given}{{0,2}}(?:{_TITLES})"
    cued_address = f"(?:{_ADDRESS_CUES}){_ADDRESS_CUE_TAIL}{_ADDRESS_DETAIL}"
    return f"{cued_name}|{cued_address}|{titled_name}"


# ---------------------------------------------------------------------------------------
# Locating matches with character offsets


_MARK: Final = "\x00"
_LOCATED: Final = {"row": pl.Int64, "m": pl.String, "start": pl.Int64, "end": pl.Int64}


def _locate(texts: pl.Series, pattern: str) -> pl.DataFrame:
    """Every leftmost-first, non-overlapping match of ``pattern``: row, m, start, end.

    Polars' regex functions give matches but no offsets. So each match is wrapped in a
    NUL mark (``replace_all`` with ``\x00${0}\x00``, the Rust regex engine's own
    match iteration) and the text is split on the marks: pieces alternate between the
    text between matches and the matches, and cumulative ``len_chars`` gives offsets.
    Offsets are Python ``str`` indices (characters), not UTF-8 bytes. A NUL already in
    a text is first replaced by another single character, which keeps offsets.
    """
    rows = texts.str.contains(pattern).fill_null(False).arg_true()
    if len(rows) == 0:
        return pl.DataFrame(schema=_LOCATED)
    sub = texts.gather(rows)
    if sub.str.contains(_MARK, literal=True).any():
        sub = sub.str.replace_all(_MARK, "\x01", literal=True)
    parts = sub.str.replace_all(pattern, f"{_MARK}${{0}}{_MARK}").str.split(_MARK)
    frame = pl.DataFrame({"row": rows.cast(pl.Int64), "m": parts}).explode("m")
    length = pl.col("m").str.len_chars().cast(pl.Int64)
    first = (pl.col("row") != pl.col("row").shift(1)).fill_null(True)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    ends = length.cum_sum()
    frame = frame.with_columns(
        piece=index - pl.when(first).then(index).forward_fill(),
        end=ends - pl.when(first).then(ends - length).forward_fill(),
    )
    return frame.filter(pl.col("piece") % 2 == 1).select(
        "row", "m", start=pl.col("end") - length, end="end"
    )


def _with_context(cands: pl.DataFrame, texts: pl.Series) -> pl.DataFrame:
    """Add ``pre`` (up to 10 characters before) and ``post`` (1 character after)."""
    text = texts.gather(cands["row"])
    lo = (cands["start"] - _CONTEXT_CHARS).clip(lower_bound=0)
    return cands.with_columns(
        pre=text.str.slice(lo, cands["start"] - lo),
        post=text.str.slice(cands["end"], 1),
    )


# ---------------------------------------------------------------------------------------
# Validators on candidate subsets


BoolArray = npt.NDArray[np.bool_]


def _char_matrix(values: pl.Series, width: int) -> npt.NDArray[np.uint8]:
    """ASCII strings of exactly ``width`` characters as an ``(n, width)`` byte matrix."""
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    joined = values.str.join("").item()
    return np.frombuffer(str(joined).encode("ascii"), dtype=np.uint8).reshape(-1, width)


def _ric18_valid(norm: pl.Series) -> BoolArray:
    """Checksum, birth date and province of 18-character resident ID candidates."""
    upper = norm.str.to_uppercase()
    chars = _char_matrix(upper, 18)
    digits = chars[:, :17].astype(np.int64) - 48
    total = digits @ np.array(RIC_WEIGHTS, dtype=np.int64)
    expected = np.frombuffer(RIC_CHECK_CHARS.encode("ascii"), dtype=np.uint8)[total % 11]
    checksum = expected == chars[:, 17]
    born = upper.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    date_ok = ((born >= _MIN_DATE) & (born <= date.today())).fill_null(False).to_numpy()
    provinces, _ = _regions()
    province_ok = upper.str.slice(0, 2).is_in(provinces.implode()).to_numpy()
    return np.asarray(checksum & date_ok & province_ok, dtype=np.bool_)


def _ric15_valid(norm: pl.Series) -> BoolArray:
    """Legacy 15-digit IDs: known region code and a valid 19yy birth date."""
    _, regions = _regions()
    region_ok = norm.str.slice(0, 6).is_in(regions.implode()).to_numpy()
    born = ("19" + norm.str.slice(6, 6)).str.to_date("%Y%m%d", strict=False)
    return np.asarray(region_ok & born.is_not_null().to_numpy(), dtype=np.bool_)


def _luhn_valid(digits: pl.Series) -> BoolArray:
    """Luhn check of digit strings of at most 19 digits."""
    chars = _char_matrix(digits.str.zfill(19), 19).astype(np.int64) - 48
    doubled = chars[:, 1::2] * 2  # positions 1, 3, ..., 17: every second digit from the right
    doubled -= np.where(doubled > 9, 9, 0)
    total = chars[:, 0::2].sum(axis=1) + doubled.sum(axis=1)
    return np.asarray(total % 10 == 0, dtype=np.bool_)


def _python_check(values: pl.Series, check: Callable[[str], bool]) -> BoolArray:
    """Apply a scalar validator (python-stdnum, ipaddress) to a few candidates."""
    out = np.zeros(len(values), dtype=np.bool_)
    for i, value in enumerate(values.to_list()):
        try:
            out[i] = bool(check(value))
        except (ValueError, TypeError, ArithmeticError):
            out[i] = False
    return out


def _ipv6_valid(value: str) -> bool:
    return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)


def _phone_kind(value: str) -> str | None:
    """``cn_mobile`` / ``cn_landline`` / ``intl_phone`` for a valid +CC number, else None."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("00"):
        digits = digits[2:]
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if number.country_code == 86:
        kind = phonenumbers.number_type(number)
        return CN_MOBILE if kind == phonenumbers.PhoneNumberType.MOBILE else CN_LANDLINE
    return INTL_PHONE


def _subset(
    frame: pl.DataFrame, flag: str, column: str, check: Callable[[pl.Series], BoolArray]
) -> pl.Series:
    """Run ``check`` on the rows where ``flag`` is true; false elsewhere."""
    out = np.zeros(frame.height, dtype=np.bool_)
    idx = frame[flag].arg_true().to_numpy()
    if idx.size:
        out[idx] = check(frame[column].gather(idx))
    return pl.Series(out)


# ---------------------------------------------------------------------------------------
# Token classification (numbers, codes, e-mails, IP addresses, plates)


def _classify_tokens(cands: pl.DataFrame) -> pl.DataFrame:
    """Validated token candidates with ``pii_type`` (null when not PII) and ``confidence``."""
    m, pre, post = pl.col("m"), pl.col("pre"), pl.col("post")
    f = cands.with_columns(norm=m.str.replace_all(r"[ \-()（）]", ""))
    norm = pl.col("norm")
    f = f.with_columns(
        ric18=m.str.contains(_RIC18_SHAPE),
        ric15=m.str.contains(_RIC15_SHAPE),
        mobile=m.str.contains(_MOBILE_SHAPE)
        & norm.str.slice(-11, 3).cast(pl.Int64, strict=False).is_in(_mobile_prefixes().implode()),
        landline=m.str.contains(_LANDLINE_SHAPE),
        card=m.str.contains(_CARD_SHAPE),
        plus=(m.str.starts_with("+") | m.str.starts_with("00")) & (norm.str.len_chars() >= 9),
        uscc=m.str.contains(_USCC_SHAPE),
        iban=m.str.contains(_IBAN_SHAPE),
        passport=m.str.contains(_PASSPORT_SHAPE),
        permit=m.str.contains(_PERMIT_SHAPE),
        ipv4=m.str.contains(_IPV4_SHAPE)
        & ~m.str.contains(r"^(?:0|127)\.")
        & ~pre.str.contains(_VERSION_CUE),
        ipv6=m.str.contains(":") & (m.str.contains("::") | (m.str.count_matches(":") == 7)),
        plate=m.str.contains(_PLATE_SHAPE) & m.str.contains("[0-9]"),
        order_cue=pre.str.contains(_ORDER_CUE),
        card_cue=pre.str.contains(_CARD_CUE),
        phone_cue=pre.str.contains(_PHONE_CUE),
        id_cue=pre.str.contains(_ID_CUE),
        doc_cue=pre.str.contains(_DOC_CUE),
        plate_cue=pre.str.contains(_PLATE_CUE),
        glued=(pre.str.contains(_ASCII_LETTER_BEFORE) | post.str.contains(_ASCII_ALNUM_AFTER)),
    )
    f = f.with_columns(
        ric18=_subset(f, "ric18", "norm", _ric18_valid),
        ric15=_subset(f, "ric15", "norm", _ric15_valid),
        card=_subset(f, "card", "norm", _luhn_valid),
    )
    f = f.with_columns(uscc=pl.col("uscc") & ~pl.col("ric18"))  # most are ID numbers
    f = f.with_columns(
        uscc=_subset(f, "uscc", "norm", lambda s: _python_check(s, stdnum_uscc.is_valid)),
        iban=_subset(f, "iban", "norm", lambda s: _python_check(s, stdnum_iban.is_valid)),
        ipv6=_subset(f, "ipv6", "m", lambda s: _python_check(s, _ipv6_valid)),
    )
    plus_idx = f["plus"].arg_true().to_numpy()
    plus_kind: list[str | None] = [None] * f.height
    for i, value in zip(plus_idx.tolist(), f["norm"].gather(plus_idx).to_list(), strict=True):
        plus_kind[i] = _phone_kind(value)
    f = f.with_columns(plus_kind=pl.Series(plus_kind, dtype=pl.String))
    region_known = norm.str.slice(0, 6).is_in(_regions()[1].implode())
    glued = pl.col("glued") & ~pl.col("phone_cue") & ~pl.col("card_cue")
    unionpay = norm.str.starts_with("62")
    # Without a card cue, only numbers with a plausible issuer prefix and length are cards,
    # and an 18-digit number shaped like a resident ID (region + birth date) is not one.
    issuer = norm.str.contains(_CARD_ISSUER)
    id_like = (
        norm.str.contains(r"^[1-9][0-9]{16}[0-9Xx]$")
        & region_known
        & norm.str.slice(6, 8).str.to_date("%Y%m%d", strict=False).is_not_null()
    )
    card_ok = pl.col("card") & ~pl.col("order_cue") & (pl.col("card_cue") | (issuer & ~id_like))
    kind = (
        pl.when(pl.col("ric18"))
        .then(pl.lit(CN_RIC))
        .when(pl.col("mobile") & ~pl.col("order_cue"))
        .then(pl.lit(CN_MOBILE))
        .when(card_ok)
        .then(pl.lit(BANK_CARD))
        .when(pl.col("ric15") & ~pl.col("order_cue"))
        .then(pl.lit(CN_RIC))
        .when(pl.col("landline") & ~pl.col("order_cue"))
        .then(pl.lit(CN_LANDLINE))
        .when(pl.col("plus_kind").is_not_null())
        .then(pl.col("plus_kind"))
        .when(pl.col("uscc"))
        .then(pl.lit(USCC))
        .when(pl.col("iban"))
        .then(pl.lit(IBAN))
        .when(pl.col("passport"))
        .then(pl.lit(CN_PASSPORT))
        .when(pl.col("permit") & pl.col("doc_cue"))
        .then(pl.lit(CN_TRAVEL_PERMIT))
        .when(pl.col("ipv4"))
        .then(pl.lit(IPV4))
        .when(pl.col("ipv6"))
        .then(pl.lit(IPV6))
        .when(pl.col("plate"))
        .then(pl.lit(LICENSE_PLATE))
        .when(m.str.contains("@"))
        .then(pl.lit(EMAIL))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    f = f.with_columns(pii_type=kind)
    t = pl.col("pii_type")
    conf = (
        pl.when(t == CN_RIC)
        .then(
            pl.when(pl.col("ric18"))
            .then(pl.when(region_known).then(0.99).otherwise(0.9))
            .otherwise(pl.when(pl.col("id_cue")).then(0.9).otherwise(0.7))
        )
        .when(t == CN_MOBILE)
        .then(
            pl.when(glued)
            .then(0.6)
            .when(pl.col("phone_cue") | m.str.contains(r"^\+|^0086|[ \-]"))
            .then(0.98)
            .otherwise(0.95)
        )
        .when(t == BANK_CARD)
        .then(
            pl.when(glued)
            .then(0.5)
            .when(pl.col("card_cue"))
            .then(0.97)
            .when(unionpay)
            .then(0.9)
            .otherwise(0.8)
        )
        .when(t == CN_LANDLINE)
        .then(
            pl.when(glued)
            .then(0.5)
            .when(pl.col("phone_cue"))
            .then(0.95)
            .when(m.str.contains(r"[ \-()（）+]"))
            .then(0.85)
            .otherwise(0.7)
        )
        .when(t == INTL_PHONE)
        .then(pl.when(pl.col("phone_cue")).then(0.95).otherwise(0.85))
        .when(t == USCC)
        .then(0.95)
        .when(t == IBAN)
        .then(0.95)
        .when(t == CN_PASSPORT)
        .then(pl.when(pl.col("doc_cue")).then(0.95).otherwise(0.6))
        .when(t == CN_TRAVEL_PERMIT)
        .then(0.9)
        .when(t == IPV4)
        .then(0.8)
        .when(t == IPV6)
        .then(0.85)
        .when(t == LICENSE_PLATE)
        .then(
            pl.when(pl.col("plate_cue"))
            .then(0.95)
            .when(m.str.contains(_NEW_ENERGY_PLATE))
            .then(0.9)
            .otherwise(0.85)
        )
        .when(t == EMAIL)
        .then(0.97)
        .otherwise(None)
    )
    return f.with_columns(confidence=conf.cast(pl.Float64))


@cache
def _mobile_prefixes() -> pl.Series:
    return pl.Series("prefix", sorted({*MOBILE_PREFIXES, 149}), dtype=pl.Int64)


def _sub_candidates(failed: pl.DataFrame, texts: pl.Series) -> pl.DataFrame:
    """Smaller candidates inside tokens that did not validate as a whole.

    * separated numbers ("2024-01-01 13812345678", "13812345678 13912345678"): every run
      of up to 5 consecutive digit groups;
    * a plate-like token ("新E12345678") or letters glued to digits ("ID110105..."): the
      token without its first character / leading letters.
    """
    parts: list[pl.DataFrame] = []
    separated = failed.filter(
        pl.col("m").str.contains(r"[0-9][ \-]+[0-9+]")
        & (pl.col("m").str.count_matches("[0-9]") >= _MIN_PHONE_DIGITS)
    )
    if separated.height:
        groups = (
            _locate(separated["m"], _GROUP_RE)
            .join(
                separated.select(
                    token=pl.int_range(pl.len(), dtype=pl.Int64),
                    row=pl.col("row"),
                    base=pl.col("start"),
                    tok_end=pl.col("end"),
                ),
                left_on="row",
                right_on="token",
                suffix="_t",
            )
            .sort("row", "start")
        )
        for k in range(5):
            combos = groups.with_columns(
                sub_end=pl.col("end").shift(-k).over("row"),
            ).filter(pl.col("sub_end").is_not_null())
            parts.append(
                combos.select(
                    row=pl.col("row_t"),
                    start=pl.col("base") + pl.col("start"),
                    end=pl.col("base") + pl.col("sub_end"),
                    tok_start=pl.col("base"),
                    tok_end=pl.col("tok_end"),
                ).filter(
                    (pl.col("start") != pl.col("tok_start")) | (pl.col("end") != pl.col("tok_end"))
                )
            )
    prefixed = failed.filter(
        pl.col("m").str.contains(f"^(?:[{_PLATE_PROVINCES}]|[A-Z]{{1,5}}[0-9])")
    )
    if prefixed.height:
        lead = prefixed["m"].str.extract(f"^([{_PLATE_PROVINCES}]|[A-Z]{{1,5}})", 1).str.len_chars()
        parts.append(
            prefixed.select(
                row="row",
                start=pl.col("start") + lead.cast(pl.Int64),
                end="end",
                tok_start="start",
                tok_end="end",
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={"row": pl.Int64, "m": pl.String, "start": pl.Int64, "end": pl.Int64}
        )
    subs = pl.concat(parts).select("row", "start", "end").unique(maintain_order=True)
    text = texts.gather(subs["row"])
    return subs.with_columns(m=text.str.slice(subs["start"], subs["end"] - subs["start"]))


def _token_spans(texts: pl.Series) -> pl.DataFrame:
    located = _locate(texts, _TOKEN_RE)
    # Nothing shorter than 6 characters is PII here (a@b.cn, 1.1.1.1, 京A12345, ...), and
    # only tokens of a plausible shape are worth the full classification.
    located = located.filter(pl.col("m").str.len_chars() >= _MIN_TOKEN)
    plausible = pl.col("m").str.contains(_plausible_pattern())
    first = _classify_tokens(_with_context(located.filter(plausible), texts))
    failed = pl.concat(
        [
            located.filter(~plausible),
            first.filter(pl.col("pii_type").is_null()).select(list(_LOCATED)),
        ]
    )
    found = [first.filter(pl.col("pii_type").is_not_null()).select(list(SPAN_SCHEMA))]
    subs = _sub_candidates(failed, texts)
    if subs.height:
        subs = subs.filter(plausible)
        second = _classify_tokens(_with_context(subs, texts))
        found.append(second.filter(pl.col("pii_type").is_not_null()).select(list(SPAN_SCHEMA)))
    return pl.concat(found)


@cache
def _plausible_pattern() -> str:
    """Any shape :func:`_classify_tokens` can accept (one regex pass to skip the rest)."""
    shapes = (
        _RIC18_SHAPE,
        _RIC15_SHAPE,
        _MOBILE_SHAPE,
        _LANDLINE_SHAPE,
        _CARD_SHAPE,
        _USCC_SHAPE,
        _IBAN_SHAPE,
        _PASSPORT_SHAPE,
        _PERMIT_SHAPE,
        _IPV4_SHAPE,
        _PLATE_SHAPE,
        r"^(?:\+|00)",  # international numbers
        "@",
        ":",
    )
    return "|".join(f"(?:{shape})" for shape in shapes)


# ---------------------------------------------------------------------------------------
# Names and addresses


def _cue_spans(texts: pl.Series) -> pl.DataFrame:
    cands = _locate(texts, _cue_pattern())
    if cands.height == 0:
        return pl.DataFrame(schema=SPAN_SCHEMA)
    m = pl.col("m")
    name_cue = f"^(?:{_NAME_CUES}){_NAME_CUE_TAIL}"
    address_cue = f"^(?:{_ADDRESS_CUES}){_ADDRESS_CUE_TAIL}"
    f = cands.with_columns(
        is_address=m.str.contains(f"^(?:{_ADDRESS_CUES})"),
        is_cued=m.str.contains(f"^(?:{_NAME_CUES})"),
    )
    f = f.with_columns(
        body=pl.when(pl.col("is_address"))
        .then(m.str.replace(address_cue, ""))
        .when(pl.col("is_cued"))
        .then(m.str.replace(name_cue, ""))
        .otherwise(m)
    )
    f = f.with_columns(value=pl.col("body").str.replace(f"(?:{_TITLES})$", ""))
    f = f.with_columns(
        start=pl.col("start") + m.str.len_chars() - pl.col("body").str.len_chars(),
        end=pl.col("end") - pl.col("body").str.len_chars() + pl.col("value").str.len_chars(),
        n=pl.col("value").str.len_chars(),
        compound=pl.col("value").str.contains(f"^(?:{'|'.join(_COMPOUND_SURNAMES)})"),
    )
    given_chars = pl.col("n") - pl.when(pl.col("compound")).then(2).otherwise(1)
    f = f.with_columns(
        pii_type=pl.when(pl.col("is_address")).then(pl.lit(CN_ADDRESS)).otherwise(pl.lit(CN_NAME)),
        confidence=pl.when(pl.col("is_address"))
        .then(0.75)
        .when(pl.col("is_cued"))
        .then(pl.when(given_chars >= 2).then(0.8).otherwise(0.7))
        .otherwise(pl.when(given_chars >= 1).then(0.85).otherwise(0.5)),
    ).filter(
        (pl.col("n") > 0)
        & ~(
            pl.col("pii_type").eq(CN_NAME)
            & pl.col("value").is_in(pl.Series(sorted(_NAME_STOPWORDS), dtype=pl.String).implode())
        )
    )
    return f.select(list(SPAN_SCHEMA))


def _address_spans(texts: pl.Series) -> pl.DataFrame:
    """Runs of region names ("吉林省长春市宽城区") followed by a street-level detail."""
    names = _locate(texts, _admin_pattern())
    if names.height == 0:
        return pl.DataFrame(schema=SPAN_SCHEMA)
    chains = (
        names.with_columns(
            chain=(pl.col("start") != pl.col("end").shift(1).over("row")).fill_null(True).cum_sum()
        )
        .group_by("row", "chain", maintain_order=True)
        .agg(pl.col("start").first(), pl.col("end").last())
    )
    tail = texts.gather(chains["row"]).str.slice(chains["end"], _ADDRESS_WINDOW)
    detail = tail.str.extract(f"^({_ADDRESS_DETAIL})", 1).str.len_chars().cast(pl.Int64)
    return (
        chains.with_columns(detail=detail)
        .filter(pl.col("detail").is_not_null())
        .select(
            "row",
            "start",
            end=pl.col("end") + pl.col("detail"),
            pii_type=pl.lit(CN_ADDRESS),
            confidence=pl.lit(0.9),
        )
    )


# ---------------------------------------------------------------------------------------
# Overlaps


_ROW_SCALE: Final = 1 << 31  # row * scale + offset: per-row running maxima without group-by


def _resolve(frame: pl.DataFrame) -> pl.DataFrame:
    """Non-overlapping spans per row, exactly as :func:`resolve_overlaps` would keep them.

    Vectorised for the usual case, where overlapping spans are nested (an address found
    twice, a number inside an e-mail): the outermost span wins (ties: more confident,
    then type name). Rows with crossing spans go through :func:`resolve_overlaps`.
    """
    f = frame.select(list(SPAN_SCHEMA)).sort(
        ["row", "start", "end", "confidence", "pii_type"],
        descending=[False, False, True, True, False],
    )
    row, end = pl.col("row"), pl.col("end")
    reached = (row * _ROW_SCALE + end).cum_max().shift(1)
    reach = pl.when(reached // _ROW_SCALE == row).then(reached % _ROW_SCALE).otherwise(-1)
    outer = f.filter(end > reach)  # drop spans nested in an earlier, longer one
    crossing = outer.filter((row == row.shift(1)) & (pl.col("start") < end.shift(1)))["row"]
    if len(crossing) == 0:
        return outer
    rows = crossing.unique().implode()
    by_row: dict[int, list[Span]] = {}
    for r, start, stop, pii_type, confidence in f.filter(row.is_in(rows)).iter_rows():
        by_row.setdefault(r, []).append(Span(start, stop, pii_type, confidence))
    kept = [
        (r, s.start, s.end, s.pii_type, s.confidence)
        for r, spans in by_row.items()
        for s in resolve_overlaps(spans)
    ]
    resolved = pl.DataFrame(kept, schema=SPAN_SCHEMA, orient="row")
    clean = outer.filter(~row.is_in(rows))
    return pl.concat([clean, resolved]).sort("row", "start")


# ---------------------------------------------------------------------------------------
# Public API


def _as_text_series(texts: pl.Series) -> pl.Series:
    """Strings as they are; numbers, categoricals and all-null columns cast to strings."""
    dtype = texts.dtype
    if dtype == pl.String:
        return texts.rechunk()
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        raise Invalid(f"a column of type {dtype} cannot be scanned as text")
    try:
        return texts.cast(pl.String).rechunk()
    except pl.exceptions.PolarsError:
        raise Invalid(f"a column of type {dtype} cannot be scanned as text") from None


_HALF_WIDTH: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@.-+"
_FULL_WIDTH: Final = "".join(chr(ord(c) + 0xFEE0) for c in _HALF_WIDTH) + "\u3000"
_HALF_WIDTH_SPACE: Final = _HALF_WIDTH + " "


def _fold_width(texts: pl.Series) -> pl.Series:
    """Full-width digits, letters and ``@.-+`` and the ideographic space as ASCII.

    Character for character, so offsets into the folded text are offsets into the original.
    """
    rows = texts.str.contains(f"[{_FULL_WIDTH}]", literal=False).fill_null(False).arg_true()
    if len(rows) == 0:
        return texts
    folded = texts.gather(rows).str.replace_many(list(_FULL_WIDTH), list(_HALF_WIDTH_SPACE))
    return texts.clone().scatter(rows, folded)


_CHUNK_ROWS: Final = 100_000  # rows scanned at a time (bounds the intermediate frames)


def scan_series(*, texts: pl.Series) -> pl.DataFrame:
    """Find PII spans in a whole column at once.

    Returns one row per span, sorted by row then start, with columns ``row`` (position in
    ``texts``), ``start`` and ``end`` (character offsets), ``pii_type`` and
    ``confidence``. Null and empty rows simply have no spans. Spans never overlap.
    """
    series = _as_text_series(texts)
    frames = [
        _scan_chunk(series.slice(offset, _CHUNK_ROWS)).with_columns(pl.col("row") + offset)
        for offset in range(0, len(series), _CHUNK_ROWS)
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=SPAN_SCHEMA)


def _scan_chunk(texts: pl.Series) -> pl.DataFrame:
    series = _fold_width(texts)
    found = pl.concat(
        [_token_spans(series), _cue_spans(series), _address_spans(series)], how="vertical"
    )
    return _resolve(found.cast(pl.Schema(SPAN_SCHEMA)))


def scan(text: str) -> list[Span]:
    """PII spans in one text, sorted by start (see :func:`scan_series`)."""
    frame = scan_series(texts=_one(text))
    return spans_from_frame(frame, rows=1)[0]


def _one(text: str) -> pl.Series:
    """A one-row series; a text that is not valid Unicode is refused without quoting it."""
    try:
        return pl.Series([text], dtype=pl.String)
    except UnicodeEncodeError as exc:
        raise Invalid(f"text is not valid Unicode (at character {exc.start})") from None


def _stars(n: pl.Expr) -> pl.Expr:
    return pl.lit(_STARS).str.slice(0, n.clip(lower_bound=0))


def _admin_prefix(value: pl.Expr) -> pl.Expr:
    """The leading run of region names of an address (up to province + city + county)."""
    prefix = pl.lit("")
    for _ in range(3):
        rest = value.str.slice(prefix.str.len_chars())
        prefix = prefix + rest.str.extract(f"^({_admin_pattern()})", 1).fill_null("")
    return prefix


def mask_name_expr(v: pl.Expr) -> pl.Expr:
    """张*明: first and last character kept (one shared rule for columns and free text)."""
    n = v.str.len_chars()
    return (
        pl.when(n <= 1)
        .then(pl.lit("*"))
        .when(n == 2)
        .then(v.str.slice(0, 1) + "*")
        .otherwise(v.str.slice(0, 1) + _stars(n - 2) + v.str.slice(-1))
    )


def _digits(v: pl.Expr) -> pl.Expr:
    return v.str.replace_all(r"[^0-9Xx]", "").str.to_uppercase()


def _mask_mobile(v: pl.Expr) -> pl.Expr:
    national = _digits(v).str.slice(-11)
    return national.str.slice(0, 3) + "****" + national.str.slice(-4)


def _mask_ric(v: pl.Expr) -> pl.Expr:
    d = _digits(v)
    return d.str.slice(0, 6) + _stars(d.str.len_chars() - 10) + d.str.slice(-4)


def _mask_landline(v: pl.Expr) -> pl.Expr:
    area = v.str.extract(r"^[(（]?(0(?:10|2[0-9]|[3-9][0-9]{2}))", 1)
    local = v.str.extract(r"^[(（]?0(?:10|2[0-9]|[3-9][0-9]{2})[)）]?[ \-]?([0-9]{7,8})", 1)
    return (
        pl.when(area.is_not_null() & local.is_not_null())
        .then(area + "-" + _stars(local.str.len_chars() - 4) + local.str.slice(-4))
        .otherwise(_stars(v.str.len_chars() - 4) + _digits(v).str.slice(-4))
    )


def _keep(head: int, tail: int) -> Callable[[pl.Expr], pl.Expr]:
    """Keep ``head`` leading and ``tail`` trailing characters, star the rest."""

    def mask(v: pl.Expr) -> pl.Expr:
        return v.str.slice(0, head) + _stars(v.str.len_chars() - head - tail) + v.str.slice(-tail)

    return mask


def _mask_all(v: pl.Expr) -> pl.Expr:
    return _stars(v.str.len_chars())


# Masked form of a span value per type: keeps the shape, never the whole value.
_MASKERS: Final[dict[str, Callable[[pl.Expr], pl.Expr]]] = {
    CN_MOBILE: _mask_mobile,
    CN_RIC: _mask_ric,
    EMAIL: lambda v: v.str.slice(0, 1) + "***@" + v.str.extract(r"@(.*)$", 1),
    BANK_CARD: lambda v: "**** **** **** " + _digits(v).str.slice(-4),
    CN_LANDLINE: _mask_landline,
    INTL_PHONE: lambda v: v.str.slice(0, 3) + "****" + _digits(v).str.slice(-4),
    CN_NAME: mask_name_expr,
    CN_ADDRESS: lambda v: _admin_prefix(v) + "***",
    IPV4: lambda v: v.str.extract(r"^([0-9]+\.[0-9]+)\.", 1) + ".*.*",
    IPV6: lambda v: v.str.extract(r"^([0-9A-Fa-f]*:[0-9A-Fa-f]*)", 1) + ":****",
    USCC: _keep(8, 1),
    LICENSE_PLATE: _keep(2, 2),
    CN_PASSPORT: _keep(1, 2),
    CN_TRAVEL_PERMIT: _keep(1, 2),
    IBAN: _keep(4, 4),
}


def _replacements(spans: pl.DataFrame) -> pl.Series:
    """Masked form of each ``value`` by its ``pii_type``, in the frame's order."""
    indexed = spans.select("value", "pii_type").with_row_index("i")
    parts = []
    for (pii_type,), group in indexed.group_by("pii_type"):
        masker = _MASKERS.get(str(pii_type), _mask_all)
        value = pl.col("value")
        parts.append(group.select("i", rep=masker(value).fill_null(_stars(value.str.len_chars()))))
    return pl.concat(parts).sort("i")["rep"]


def _mask_frame(texts: pl.Series, spans: pl.DataFrame) -> pl.Series:
    """Replace every span (non-overlapping) in ``texts`` by its masked form."""
    if spans.height == 0:
        return texts
    f = spans.sort("row", "start")
    folded = _fold_width(texts).gather(f["row"])
    f = f.with_columns(text=texts.gather(f["row"]))
    f = f.with_columns(
        prev_end=pl.when(pl.col("row") == pl.col("row").shift(1))
        .then(pl.col("end").shift(1))
        .otherwise(0),
        value=folded.str.slice(f["start"], f["end"] - f["start"]),
    )
    f = f.with_columns(rep=_replacements(f))
    f = f.with_columns(
        piece=pl.col("text").str.slice(pl.col("prev_end"), pl.col("start") - pl.col("prev_end"))
        + pl.col("rep")
    )
    joined = f.group_by("row", maintain_order=True).agg(
        pl.col("piece").str.join(""),
        tail=pl.col("text").first().str.slice(pl.col("end").last()),
    )
    masked = joined.select(pl.col("piece") + pl.col("tail")).to_series()
    return texts.clone().scatter(joined["row"], masked)


def mask_series(*, texts: pl.Series) -> pl.Series:
    """Scan a whole column and replace every span by its masked form (nulls stay null)."""
    series = _as_text_series(texts)
    chunks = [
        _mask_frame(chunk, _scan_chunk(chunk))
        for chunk in (
            series.slice(offset, _CHUNK_ROWS) for offset in range(0, len(series), _CHUNK_ROWS)
        )
    ]
    return (pl.concat(chunks) if chunks else series).alias(texts.name)


def mask_text(text: str, spans: Sequence[Span]) -> str:
    """``text`` with each span replaced by a masked form that keeps its shape.

    138****5678, 110105********002X, a***@example.com, 张*明, "**** **** **** 1234",
    an address cut after its district. Overlapping spans are resolved first (longer,
    then more confident, wins).
    """
    for span in spans:
        if span.end > len(text):
            raise Invalid(f"span {span.start}..{span.end} outside a text of {len(text)} characters")
    kept = resolve_overlaps(spans)
    series = _one(text)
    out = _mask_frame(series, spans_to_frame(kept))
    return str(out.item())
