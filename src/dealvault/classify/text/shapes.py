"""Free-text candidate regexes: token shapes, validated shapes and context cues."""

from __future__ import annotations

from typing import Final

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
# Disguised e-mail addresses: ``#``, ``(at)`` / ``[at]`` for "@" and ``(dot)`` / ``[dot]``
# for "."; the top-level domain must be a common one (a ``#`` is common in other text).
_OPEN: Final = r"[(\[{（【]"
_CLOSE: Final = r"[)\]}）】]"
_OBF_AT: Final = rf"(?: ?#|[ ]?{_OPEN} ?(?i:at) ?{_CLOSE}[ ]?)"
_OBF_DOT: Final = rf"(?:\.|[ ]?{_OPEN} ?(?i:dot) ?{_CLOSE}[ ]?)"
_OBF_TLD: Final = (  # longest first: leftmost-first alternation takes the first that fits
    r"(?i:example|invalid|info|test|com|net|org|edu|gov|biz|top|xyz|cn|io|co|me|cc|hk|tw|mo"
    r"|jp|kr|sg|uk|de|fr|us|ru|in|au|ca)"
)
_OBF_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_OBF_EMAIL_RE: Final = (
    rf"[A-Za-z0-9._%+\-]+{_OBF_AT}{_OBF_LABEL}(?:{_OBF_DOT}{_OBF_LABEL})*{_OBF_DOT}{_OBF_TLD}"
)
_OBF_EMAIL_SHAPE: Final = f"^{_OBF_EMAIL_RE}$"
_OBF_EMAIL_DOMAIN: Final = rf"{_OBF_AT}(.*)$"  # group 1: the domain, dots still disguised
_TOKEN_RE: Final = "|".join(
    (
        _EMAIL_RE,
        _OBF_EMAIL_RE,
        _IPV6_RE,
        _DOTTED_RE,
        _PLATE_RE,
        _PAREN_PHONE_RE,
        _ALNUM_RE,
        _NUM_RE,
    )
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
    r"(?:[0-9]{8}|[ \-][0-9]{4}[ \-][0-9]{4}|[0-9]{4}[ \-][0-9]{4}|[ \-][0-9]{8}"
    r"|\.[0-9]{4}\.[0-9]{4})$"
)
# A local landline number without its area code (7 or 8 digits): only after a phone cue.
_LOCAL_LANDLINE_SHAPE: Final = r"^[2-9][0-9]{2,3}[ \-]?[0-9]{4}$"
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
    r"|会员号|会员卡|积分卡|购物卡|礼品卡|储值卡|订单ID|包裹|快件|发票代码|发票号码"
    r"|(?i:order|no\.?|sn|sku))[号码]?[^0-9\p{Han}]{0,3}$"
)
# A number further down a list that starts after an order cue ("订单号：A、B、C"): the
# cue, then only list items and separators up to the candidate (``far`` context).
_FAR_CONTEXT_CHARS: Final = 160
_LIST_SEPARATOR: Final = r"(?:[ ]*[、，,;；/][ ]*|[ ]+|[ ]*(?:和|及|与|以及)[ ]*)"
_LIST_CUE: Final = (
    r"(?:订单|单号|运单|快递|物流|包裹|快件|发票代码|发票号码|发票号|(?i:order|no\.?))[号码]?"
    rf"[^0-9\p{{Han}}]{{0,3}}(?:[A-Za-z\-]*[0-9][0-9A-Za-z\-]*{_LIST_SEPARATOR})+$"
)
# Cues of a landline written without its area code.
_LANDLINE_CUE: Final = (
    r"(?:电话|座机|固话|宅电|致电|拨打|来电|回电|热线|总机|分机|(?i:tel|phone))[^0-9]{0,5}$"
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
