"""Regular expressions and word lists the detectors match whole cell values against."""

from __future__ import annotations

from functools import cache
from typing import Final

from dealvault.classify.names import COMPOUND_SURNAMES, GIVEN_CHARS, SINGLE_SURNAMES, TITLES

# --- identity documents ------------------------------------------------------------------
RIC: Final = r"^\d{15}(?:\d{2}[\dXx])?$"  # 18 digits (check may be X) or legacy 15
# Ordinary passports: E + 8 digits or E + letter + 7 digits (2012-), G + 8 digits (older);
# diplomatic / service / public-affairs: DE, SE, PE + 7 digits.
PASSPORT: Final = r"^(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7}|[DSP]E\d{7})$"
# Mainland residents' permit to Hong Kong and Macao: C + letter/digit + 7 digits (card),
# W + 8 digits (booklet); HK / Macao residents' home-return permit: H / M + 8 or 10 digits.
HK_MACAU_PERMIT: Final = r"^(?:C[0-9A-HJ-NP-Z]\d{7}|W\d{8}|[HM]\d{8}(?:\d{2})?)$"
# Mainland residents' permit to Taiwan: L / T + 8 digits; Taiwan residents' mainland travel
# permit (台胞证): 8 digits (card), formerly 10 digits with a letter in brackets. Bare digits
# count only under a matching header (see ``SHAPES``).
TW_PERMIT: Final = r"^(?:[LT]\d{8}|\d{10}\(?[A-Z]\)?)$"
USCC: Final = r"^\d{8}[0-9A-HJ-NPQRTUWXY]{10}$"
IBAN: Final = r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$"

# --- contact -----------------------------------------------------------------------------
MOBILE_PREFIX: Final = r"1(?:3\d|4[579]|5[0-35-9]|6[2567]|7[0-35-8]|8\d|9[0-35-9])"
_CN: Final = r"(?:\(?(?:\+|00)?86\)?[\s\-]?)"
MOBILE: Final = rf"^{_CN}?{MOBILE_PREFIX}[\s\-]?\d{{4}}[\s\-]?\d{{4}}$"
# Any 11-digit number starting with 1 (to see how many fail the prefix list).
MOBILE_LIKE: Final = rf"^{_CN}?1\d{{2}}[\s\-]?\d{{4}}[\s\-]?\d{{4}}$"
_AREA: Final = r"(?:10|2\d|[3-9]\d{2})"
_EXT: Final = r"(?:\s*(?:转|-|ext\.?|x)\s*\d{1,5})?"
_TRUNK: Final = rf"(?:\(?0{_AREA}\)?|\(?(?:\+|00)86\)?[\s\-]?\(?{_AREA}\)?)"
LANDLINE: Final = rf"^{_TRUNK}[\s\-]?[1-9]\d{{2,3}}[\s\-]?\d{{4}}{_EXT}$"
INTL_PHONE: Final = r"^\(?(?:\+|00)\s?[1-9]\d{0,2}\)?[\d\s\-().]{5,20}$"
CN_INTL: Final = r"^\(?(?:\+|00)\s?86"
EMAIL: Final = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
IPV4: Final = r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
IPV6_LIKE: Final = r"^[0-9A-Fa-f:.]{2,45}$"  # then checked with ``ipaddress``

# --- cards -------------------------------------------------------------------------------
CARD: Final = r"^\d{4}(?:[\s\-]?\d{4}){2}[\s\-]?\d{3,7}$"  # 15-19 digits, optional groups
CARD_DIGITS: Final = r"^\d{13,19}$"

# --- vehicles ----------------------------------------------------------------------------
PLATE_PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PL: Final = "A-HJ-NP-Z"  # plate letters never use I or O
LICENSE_PLATE: Final = (
    rf"^[{PLATE_PROVINCES}][{_PL}][\s·•\-]?(?:"
    rf"[DF][{_PL}0-9]\d{{4}}"  # new energy, small car (8 characters)
    rf"|\d{{5}}[DF]"  # new energy, large vehicle
    rf"|[{_PL}0-9]{{4}}[{_PL}0-9挂学警港澳领试超]"  # ordinary 7-character plates
    r")$"
)

# --- dates, times, amounts ---------------------------------------------------------------
# A date may carry a midnight time (exports of DATETIME columns holding dates).
MIDNIGHT: Final = r"(?:\s+|T)0?0:00(?::00(?:\.0+)?)?$"
DATE_PARTS: Final = (
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T)0?0:00(?::00(?:\.0+)?)?)?$"
)
DATE_COMPACT: Final = r"^(\d{4})(\d{2})(\d{2})$"
# A month without a day (2024年3月, 2024-03): the first of the month.
DATE_MONTH: Final = r"^(\d{4})\s*(?:年|[-/])\s*(\d{1,2})\s*月?$"
# An Excel serial date (days since 1899-12-30, a fraction for the time): only counted when
# the header names a date, since any number of 2-7 digits has this shape.
EXCEL_SERIAL: Final = r"^(\d{2,7})(\.\d+)?$"
_TIME: Final = (
    r"(?:\s+|T|\s*T\s*)\d{1,2}\s*[:时]\s*\d{1,2}(?:\s*[:分]\s*\d{1,2}(?:\.\d{1,9})?)?\s*秒?"
)
_YMD: Final = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
DATETIME_PARTS: Final = rf"^{_YMD}{_TIME}\s*(?:Z|[+-]\d{{2}}:?\d{{2}})?$"
AMOUNT: Final = (
    r"^(?:[¥￥$]|RMB|CNY)?\s*[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\s*(?:元|RMB|CNY)?$"
)
# An amount-looking value with a decimal part or a currency marker (plain integers are not
# evidence of money).
AMOUNT_MARKED: Final = r"\.\d{1,2}\s*(?:元|RMB|CNY)?$|^[¥￥$]|^RMB|^CNY|元$|RMB$|CNY$"
QUANTITY: Final = r"^[+-]?\d{1,6}$"

# --- identifiers -------------------------------------------------------------------------
IDENTIFIER: Final = (
    r"^[A-Za-z]{0,8}[-_#]?\d[\d\-_]{3,39}$|^[A-Za-z]{1,8}[-_#]?[A-Za-z0-9]*\d[A-Za-z0-9]{3,}$"
)
ORDER_PREFIX: Final = r"^(?:DD|ORD|ORDER|SO|PO|OD|NO|TB|JD|PDD|WX|ZF|TX|TRX|TRADE|DH)[-_#]?\d"
CUSTOMER_PREFIX: Final = r"^(?:C|CU|CUS|CUST|CID|KH|HY|VIP|M|MEM|MB|U|UID|USR|USER|CLI|K)[-_#]?\d"
EMBEDDED_DATE: Final = (
    r"^[A-Za-z]{0,6}[-_#]?(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3,}$"
)

# --- text --------------------------------------------------------------------------------
ADDRESS_PARTS: Final = (
    r"(?:\d+|[一二三四五六七八九十百]+)\s*(?:号|弄|栋|幢|座|楼|单元|室|层|组)"
    r"|路|街|大道|巷|胡同|村|镇|乡|屯|小区|花园|公寓|大厦|广场|家园|新村|园区"
)
PRODUCT_HINT: Final = (
    r"(?i)\d+(?:\.\d+)?\s*(?:kg|mg|g|ml|l|斤|克|千克|公斤|毫升|升|瓶|盒|袋|包|件|支|片|颗|粒|抽|卷|装"
    r"|套|个|只|双|箱|桶|罐|条|台|部|寸|英寸|gb|tb|mah|w)"
    r"|液|剂|精|灵|皂|纸|巾|膏|霜|乳|露|粉|油|茶|酒|奶|咖啡|饮料|果汁|零食|饼干|面包|手机|电脑|耳机"
    r"|充电|数据线|电视|冰箱|空调|洗衣机|衣|裤|鞋|帽|袜|套餐|会员|礼盒|礼包|月卡|年卡|皮肤|点券"
    r"|喷雾|凝珠|湿巾|净|器|机|刷|杯|壶|锅|盘|碗|垫|被|枕|灯|笔|本|包|卡|券"
)
# Membership tiers and customer levels: a tier word with 卡/会员/级/用户/客户 (金卡, 银卡会员,
# 钻石会员, 普通会员, 黄金级), VIP/V/LV with a number, or an English tier word.
_TIER_WORDS: Final = (
    "普通|注册|正式|新|老|铜|银|金|铂|钻|青铜|白银|黄金|铂金|白金|钻石|黑金|黑钻|蓝钻|紫钻|翡翠"
    "|至尊|尊享|尊贵|贵宾|高级|资深|初级|中级|超级|荣耀|星级|[一二三四五六七八九十1-9]星"
)
TIER: Final = (
    rf"(?i)^(?:(?:{_TIER_WORDS})(?:卡会员|卡用户|卡|级会员|级|会员|用户|客户|客)"
    r"|(?:s?vip|v|lv\.?|level\s?)\s?\d{1,2}(?:级|会员)?|s?vip(?:会员|客户|用户)?|非会员|散客"
    r"|(?:gold|silver|bronze|platinum|diamond|standard|basic|premium|regular|elite)"
    r"(?:\s?(?:member|tier|card|level))?)$"
)
CJK_PUNCT: Final = r"\p{Han}.*[，。！？；：、]|[，。！？；：、].*\p{Han}"
WORDS: Final = r"\S+\s+\S+\s+\S+"
GENDER_WORDS: Final = frozenset(
    {"男", "女", "男性", "女性", "先生", "女士", "m", "f", "male", "female", "man", "woman",
     "未知", "保密", "其他", "unknown",
     # M/W/X/O (German and Dutch forms), men/women, other and non-binary codes
     "w", "x", "o", "u", "men", "women", "other", "non-binary", "nonbinary", "diverse",
     "divers", "weiblich", "männlich", "homme", "femme", "hombre", "mujer"}
)  # fmt: skip
FREQUENCY_WORDS: Final = frozenset(
    {"每天", "每日", "每周", "每月", "每季度", "每季", "每年", "每半年", "偶尔", "经常", "很少",
     "从不", "不定期", "一周一次", "一月一次", "一周多次", "一月多次", "daily", "weekly",
     "monthly", "quarterly", "yearly", "annually", "rarely", "occasionally", "often", "never",
     "sometimes"}
)  # fmt: skip


@cache
def name_pattern() -> str:
    """Surname (single or compound) + one or two given-name characters, or a title."""
    surnames = "|".join(sorted(set(COMPOUND_SURNAMES), key=len, reverse=True))
    single = "".join(sorted(set(SINGLE_SURNAMES)))
    given = "".join(sorted(set(GIVEN_CHARS)))
    titles = "|".join(TITLES)
    return rf"^(?:{surnames}|[{single}])(?:[{given}]{{1,2}}|{titles})$"


@cache
def loose_name_pattern() -> str:
    """Surname + any one or two Han characters."""
    surnames = "|".join(sorted(set(COMPOUND_SURNAMES), key=len, reverse=True))
    single = "".join(sorted(set(SINGLE_SURNAMES)))
    return rf"^(?:{surnames}|[{single}])\p{{Han}}{{1,2}}$"


# Minority and transliterated names: two parts joined by a middle dot.
DOTTED_NAME: Final = r"^\p{Han}{1,8}[·•．.]\p{Han}{1,10}$"

# --- international columns (classify/intl.py) ----------------------------------------------
# A Latin-script person name: capitalised tokens (O'Brien, McDonald, Jean-Luc, Müller), initials
# and lower-case particles (van der, de la); or "Surname, Given"; or upper-case tokens.
_NAME_PART: Final = r"(?:\p{Lu}\p{Ll}*(?:['’\-]?\p{Lu}?\p{Ll}+)+|\p{Lu}{2,}(?:['’\-]\p{Lu}+)?)"
_PARTICLE: Final = r"(?:van|von|de|der|den|da|di|du|la|le|del|della|dos|das|bin|al|ter|ten|y)"
PERSON_NAME: Final = (
    rf"^{_NAME_PART}(?:(?:\s+|-){_NAME_PART}|\s+\p{{Lu}}\.?|\s+{_PARTICLE}){{0,4}}$"
    rf"|^{_NAME_PART}(?:\s+{_NAME_PART}){{0,2}},\s*{_NAME_PART}"
    rf"(?:\s+(?:{_NAME_PART}|\p{{Lu}}\.?)){{0,2}}$"
)
# US Social Security number, grouped (the bare nine digits count only under an SSN header).
SSN_GROUPED: Final = r"^\d{3}[-\s]\d{2}[-\s]\d{4}$"
SSN_BARE: Final = r"^\d{9}$"
# Passport numbers, format level (on the upper-case compact form): US / UK 9 digits, US next
# generation letter + 8 digits, JP / KR two letters + 7 digits, IN letter + 7 digits, FR two
# digits + two letters + five digits, DE nine characters from its alphabet, other letter + digits.
PASSPORT_INTL: Final = (
    r"^(?:\d{9}|[A-Z]\d{7,8}|[A-Z]{2}\d{6,7}|\d{2}[A-Z]{2}\d{5}"
    r"|[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8})$"
)
# Driving licences, format level (upper-case compact form): UK DVLA 16 characters, or 5 to 16
# letters and digits with at least four digits (US states, EU cards); a header must back it up.
DRIVING_UK: Final = r"^[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z]{2}$"
DRIVING_LICENCE: Final = r"^[A-Z0-9]{5,16}$"
FOUR_DIGITS: Final = r"\d\D*\d\D*\d\D*\d"
# Vehicle identification number (ISO 3779): 17 characters, never I, O or Q.
VIN: Final = r"^[A-HJ-NPR-Z0-9]{17}$"
# A value that holds an e-mail address with more around it ("Name <a@b.example>").
EMAIL_INSIDE: Final = (
    r"[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# A phone number in any national layout: 7 to 15 digits with spaces, dashes, dots, brackets.
PHONE_SHAPE: Final = r"^(?:\+|00)?\(?\d(?:[\s\-.()/]{0,2}\d){6,14}$"
# Dates with the day and month in either order (5/3/1985, 05.03.1985, 5-3-1985).
DATE_DM: Final = (
    r"^(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*[/.\-]\s*(\d{4})(?:(?:\s+|T)0?0:00(?::00(?:\.0+)?)?)?$"
)
