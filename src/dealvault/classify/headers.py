"""Column headers (Chinese, English, pinyin abbreviations) to candidate PII types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from dealvault.ingest.fields import FIELDS, SYNONYMS, normalise_header

EXACT: Final = 0.9  # header is a known synonym
KEYWORD: Final = 0.6  # header contains a telling word

PHONES: Final = ("cn_mobile", "cn_landline", "intl_phone")
ID_DOCS: Final = ("cn_ric", "cn_passport", "hk_macau_permit", "tw_permit")
CARDS: Final = ("bank_card", "credit_card", "iban")
DATES: Final = ("date", "datetime")
NAMES: Final = ("cn_name", "person_name")
ADDRESSES: Final = ("cn_address", "street_address")
PASSPORTS: Final = ("cn_passport", "passport")
# "name" in these headers names a thing, not a person (company_name, street_name, user_name:
# a login handle is an account identifier, not a person's name).
NOT_PERSON: Final = re.compile(
    r"compan|firm|business|organi[sz]|employer|street|road|city|town|country|state|province"
    r"|region|district|place|location|product|item|goods|brand|model|file|user|login"
    r"|nick|screen|display|store|shop|bank|branch|vendor|supplier|merchant|school|hotel|host"
    r"|domain|server|table|column|field|sheet|project|campaign|event|team|dept|department"
    r"|category|plan|course|device|group|list"
)

# Canonical ingest field -> PII types its values may have (first = most likely).
FIELD_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "customer_key": ("customer_id",),
    "name": ("cn_name", "person_name"),
    "gender": ("gender",),
    "birth_date": ("date_of_birth",),
    "id_number": ("cn_ric",),
    "phone": PHONES,
    "email": ("email",),
    "address": ("cn_address", "street_address"),
    "bank_card": CARDS,
    "registered_at": DATES,
    "purchase_frequency": ("frequency",),
    "favourite_product": ("product",),
    "habits": ("free_text",),
    "order_id": ("order_id",),
    "order_time": DATES,
    "product": ("product",),
    "amount": ("amount",),
    "quantity": ("quantity",),
    "note": ("free_text",),
    "note_time": DATES,
}

# Extra exact synonyms (normalised) for types the ingest fields do not cover or name
# differently: header -> (types, canonical field or None).
_EXTRA: Final[dict[tuple[tuple[str, ...], str | None], str]] = {
    (
        ("cn_mobile",),
        "phone",
    ): "移动电话 手机号码 mobilephone mobileno mobilenumber cellphonenumber "
    "cellphoneno phoneno telephone sjhm lxfs 联系方式 contactnumber contactphone 客户手机 客户电话",
    (
        ("cn_landline",),
        "phone",
    ): "座机 座机号 座机号码 固定电话 固话 办公电话 家庭电话 单位电话 landline "
    "fixedline officephone homephone workphone zj gddh",
    (
        ("intl_phone",),
        "phone",
    ): "国际电话 境外电话 海外电话 internationalphone intlphone overseasphone",
    (("email",), "email"): "邮件 邮件地址 邮箱地址 emailaddress mailaddress yxdz dzyx",
    (
        ("cn_ric",),
        "id_number",
    ): "居民身份证 居民身份证号 公民身份号码 身份号码 身份证号码 idcard idcardno "
    "idcardnumber idnumber citizenid sfzhm sfzh",
    (ID_DOCS, "id_number"): "证件号 证件号码 zjhm zjh documentno idno",
    (PASSPORTS, None): "护照 护照号 护照号码 passport passportno passportnumber hzh hzhm",
    (("us_ssn",), None): "ssn ssno ssnumber socialsecurity socialsecurityno socialsecuritynumber "
    "socialsecuritynr",
    (("driving_licence",), None): "驾驶证 驾驶证号 驾驶证号码 驾照 驾照号 drivinglicence "
    "drivinglicense driverslicence driverslicense driverlicense driverlicence dlno dlnumber "
    "licenceno licenseno licencenumber licensenumber führerschein fuhrerschein jszh",
    (("vin",), None): "vin vinno vinnumber vehicleidentificationnumber chassisno chassisnumber "
    "车架号 车辆识别代号 车辆识别号 车辆识别码 cjh",
    (("age",), None): "age ages customerage ageyears 年龄 岁数 alter âge edad età",
    (("gender",), "gender"): "geschlecht genre sexo 性別",
    (("hk_macau_permit",), None): "港澳通行证 往来港澳通行证 港澳通行证号 港澳通行证号码 回乡证 "
    "港澳居民来往内地通行证 hkmacaupermit gatxz hxz",
    (
        ("tw_permit",),
        None,
    ): "台胞证 台胞证号 台胞证号码 台湾通行证 往来台湾通行证 台湾居民来往大陆通行证 "
    "大陆居民往来台湾通行证 twpermit taiwanpermit tbz",
    (
        ("uscc",),
        None,
    ): "统一社会信用代码 社会信用代码 信用代码 uscc creditcode unifiedsocialcreditcode "
    "tyshxydm 纳税人识别号 税号 taxid",
    (("license_plate",), None): "车牌 车牌号 车牌号码 licenseplate plate plateno platenumber "
    "vehicleplate carplate cph cphm",
    (
        ("ipv4", "ipv6"),
        None,
    ): "ip ip地址 ipaddress ipaddr 登录ip clientip 来源ip ipv4 ipv6 sourceip",
    (("iban",), None): "iban ibanno ibannumber 国际银行账号",
    (("credit_card",), "bank_card"): "信用卡 信用卡号 信用卡号码 creditcard creditcardno "
    "creditcardnumber ccnumber xykh",
    (CARDS, "bank_card"): "银行账号 银行卡号码 账号 bankcard bankcardno bankaccountno accountno "
    "accountnumber yhzh",
    (("date_of_birth",), "birth_date"): "出生年月 出生年月日 birthdate dateofbirth csny",
    (NAMES, "name"): "firstname lastname surname forename givenname familyname middlename "
    "fname lname 名 姓 vorname nachname nom prénom prenom apellido 名字 name customername "
    "客户名 真实姓名 收货人 收件人 联系人姓名 contactname fullname realname zsxm shr",
    (("customer_id",), "customer_key"): "客户代码 clientid memberno customerno custno uid userid "
    "用户id 用户编号 会员id 会员卡号 会员卡 membercard",
    (("order_id",), "order_id"): "订单id orderid ordernumber 单号 交易号 交易单号 流水号 "
    "transactionid txnid",
    (("amount",), "amount"): "价格 单价 总价 支付金额 付款金额 交易金额 amount payment paid "
    "totalamount jg",
    (("quantity",), "quantity"): "件数 count quantity",
    (DATES, None): "日期 时间 date time createdat updatedat 创建时间 更新时间 交易时间 支付时间 "
    "timestamp",
    (("product",), "product"): "productname 商品名 品名 goods goodsname spmc cpmc",
    (("frequency",), "purchase_frequency"): "频率 购买频次",
    (("label",), None): "会员等级 会员级别 会员类型 会员卡类型 会员卡等级 卡类型 卡种 卡等级 "
    "客户等级 客户级别 客户类型 客户分类 客户类别 客户分级 用户等级 等级 级别 vip等级 vip级别 "
    "membershiptier memberlevel membertier membershiplevel membershiptype customerlevel "
    "customertier customertype customersegment tier level grade segment hydj khdj",
    (("free_text",), "note"): "说明 描述 description content 内容 留言 反馈 评价 feedback "
    "comments memo 客服备注",
    (ADDRESSES, "address"): "street streetaddress addressline addressline adresse direccion "
    "详细地址 居住地址 通讯地址 homeaddress shippingaddress "
    "deliveryaddress dizhi",
}

# (substring of the normalised header, types, field); first match wins.
_KEYWORDS: Final[tuple[tuple[str, tuple[str, ...], str | None], ...]] = (
    ("评价", ("free_text",), "note"),
    ("等级", ("label",), None),
    ("级别", ("label",), None),
    ("tier", ("label",), None),
    ("level", ("label",), None),
    ("身份证", ("cn_ric",), "id_number"),
    ("护照", PASSPORTS, None),
    ("passport", PASSPORTS, None),
    ("ssn", ("us_ssn",), None),
    ("socialsecurity", ("us_ssn",), None),
    ("驾驶证", ("driving_licence",), None),
    ("驾照", ("driving_licence",), None),
    ("港澳", ("hk_macau_permit",), None),
    ("回乡证", ("hk_macau_permit",), None),
    ("台胞", ("tw_permit",), None),
    ("台湾", ("tw_permit",), None),
    ("信用代码", ("uscc",), None),
    ("车牌", ("license_plate",), None),
    ("plate", ("license_plate",), None),
    ("licen", ("driving_licence",), None),
    ("年龄", ("age",), None),
    ("ip地址", ("ipv4", "ipv6"), None),
    ("ipaddr", ("ipv4", "ipv6"), None),
    ("iban", ("iban",), None),
    ("信用卡", ("credit_card",), "bank_card"),
    ("creditcard", ("credit_card",), "bank_card"),
    ("银行卡", CARDS, "bank_card"),
    ("卡号", CARDS, "bank_card"),
    ("cardno", CARDS, "bank_card"),
    ("手机", ("cn_mobile",), "phone"),
    ("mobile", ("cn_mobile",), "phone"),
    ("cell", ("cn_mobile",), "phone"),
    ("座机", ("cn_landline",), "phone"),
    ("固话", ("cn_landline",), "phone"),
    ("电话", PHONES, "phone"),
    ("phone", PHONES, "phone"),
    ("tel", PHONES, "phone"),
    ("邮箱", ("email",), "email"),
    ("email", ("email",), "email"),
    ("mail", ("email",), "email"),
    ("地址", ADDRESSES, "address"),
    ("住址", ADDRESSES, "address"),
    ("address", ADDRESSES, "address"),
    ("addr", ADDRESSES, "address"),
    ("生日", ("date_of_birth",), "birth_date"),
    ("出生", ("date_of_birth",), "birth_date"),
    ("birth", ("date_of_birth",), "birth_date"),
    ("金额", ("amount",), "amount"),
    ("价格", ("amount",), "amount"),
    ("价", ("amount",), "amount"),
    ("amount", ("amount",), "amount"),
    ("price", ("amount",), "amount"),
    ("费", ("amount",), "amount"),
    ("时间", DATES, None),
    ("日期", DATES, None),
    ("time", DATES, None),
    ("date", DATES, None),
    ("产品", ("product",), "product"),
    ("商品", ("product",), "product"),
    ("product", ("product",), "product"),
    ("goods", ("product",), "product"),
    ("频", ("frequency",), "purchase_frequency"),
    ("frequency", ("frequency",), "purchase_frequency"),
    ("性别", ("gender",), "gender"),
    ("gender", ("gender",), "gender"),
    ("姓名", NAMES, "name"),
    ("name", NAMES, "name"),
    ("订单", ("order_id",), "order_id"),
    ("order", ("order_id",), "order_id"),
    ("单号", ("order_id",), "order_id"),
    ("流水", ("order_id",), "order_id"),
    ("客户", ("customer_id",), "customer_key"),
    ("会员", ("customer_id",), "customer_key"),
    ("customer", ("customer_id",), "customer_key"),
    ("member", ("customer_id",), "customer_key"),
    ("数量", ("quantity",), "quantity"),
    ("qty", ("quantity",), "quantity"),
    ("备注", ("free_text",), "note"),
    ("记录", ("free_text",), "note"),
    ("note", ("free_text",), "note"),
    ("remark", ("free_text",), "note"),
    ("comment", ("free_text",), "note"),
)


@dataclass(frozen=True, slots=True)
class HeaderHint:
    """What a header suggests: candidate types (most likely first), field and strength."""

    types: tuple[str, ...]
    field: str | None
    strength: float  # 0 (no header / unknown), KEYWORD or EXACT


NO_HINT: Final = HeaderHint((), None, 0.0)


def clean_header(header: str) -> str:
    """``normalise_header`` plus: no punctuation or brackets, no trailing digits."""
    h = normalise_header(header)
    h = re.sub(r"[（(\[【].*?[）)\]】]", "", h)
    h = re.sub(r"[^\w]", "", h).replace("_", "")
    return re.sub(r"\d+$", "", h)


@cache
def _exact() -> dict[str, tuple[tuple[str, ...], str | None]]:
    table: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for field, spec in FIELDS.items():
        for syn in spec.synonyms:
            key = clean_header(syn)
            if field in FIELD_TYPES and key:
                table[key] = (FIELD_TYPES[field], field)
    for (types, extra_field), words in _EXTRA.items():
        for word in words.split():
            table[clean_header(word)] = (types, extra_field)
    return table


@cache
def header_hint(header: str | None) -> HeaderHint:
    """Look a header up: exact synonyms first, then telling words inside it."""
    if header is None:
        return NO_HINT
    key = clean_header(header)
    if not key or re.fullmatch(r"(?:col(?:umn)?|field|f|c|unnamed|列|字段)?", key):
        return NO_HINT
    exact = _exact().get(key)
    if exact is None and normalise_header(header) in SYNONYMS:
        field = SYNONYMS[normalise_header(header)]
        exact = (FIELD_TYPES.get(field, ()), field)
    if exact is not None:
        return HeaderHint(exact[0], exact[1], EXACT)
    for word, types, word_field in _KEYWORDS:
        if word == "name" and word in key and NOT_PERSON.search(key):
            return NO_HINT
        if word in key:
            return HeaderHint(types, word_field, KEYWORD)
    return NO_HINT
