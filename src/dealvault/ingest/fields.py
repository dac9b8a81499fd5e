"""Canonical fields of a customer base: category, sensitivity and header synonyms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    IDENTITY = "identity"
    CONTACT = "contact"
    TRANSACTION = "transaction"
    PREFERENCE = "preference"
    SENSITIVE = "sensitive"
    FREE_TEXT = "free_text"


class TableRole(StrEnum):
    CUSTOMERS = "customers"
    ORDERS = "orders"
    NOTES = "notes"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One canonical field. ``kind`` selects the normaliser/validator in ``ingest.normalize``."""

    name: str
    category: Category | None  # None: structural (customer key), not a payload value
    kind: str
    sensitive: bool = False
    blind_index: bool = False
    synonyms: tuple[str, ...] = ()


def _f(
    name: str,
    category: Category | None,
    kind: str,
    *synonyms: str,
    sensitive: bool = False,
    blind_index: bool = False,
) -> FieldSpec:
    return FieldSpec(name, category, kind, sensitive, blind_index, (name, *synonyms))


C = Category
FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        _f(
            "customer_key",
            None,
            "key",
            "客户编号",
            "客户id",
            "客户ID",
            "客户号",
            "会员号",
            "会员编号",
            "customer_id",
            "customer_no",
            "customer id",
            "cust_id",
            "member_id",
            "khbh",
            "hyh",
        ),
        _f(
            "name",
            C.IDENTITY,
            "name",
            "姓名",
            "客户姓名",
            "客户名称",
            "联系人",
            "full_name",
            "customer_name",
            "xm",
            "khxm",
        ),
        _f("gender", C.IDENTITY, "gender", "性别", "sex", "xb"),
        _f(
            "birth_date",
            C.IDENTITY,
            "date",
            "出生日期",
            "生日",
            "birthday",
            "dob",
            "date_of_birth",
            "csrq",
        ),
        _f(
            "id_number",
            C.SENSITIVE,
            "cn_ric",
            "身份证号",
            "身份证号码",
            "身份证",
            "证件号码",
            "证件号",
            "id_card",
            "id_no",
            "national_id",
            "resident_id",
            "sfzh",
            "sfz",
            sensitive=True,
            blind_index=True,
        ),
        _f(
            "phone",
            C.CONTACT,
            "phone",
            "手机号",
            "手机号码",
            "手机",
            "电话",
            "联系电话",
            "mobile",
            "phone_number",
            "tel",
            "cellphone",
            "sjh",
            "sj",
            "lxdh",
            blind_index=True,
        ),
        _f(
            "phone_2",
            C.CONTACT,
            "phone",
            "备用电话",
            "备用手机",
            "备用手机号",
            "备用联系电话",
            "第二联系电话",
            "phone2",
            "mobile2",
            "secondary_phone",
            "alt_phone",
            blind_index=True,
        ),
        _f(
            "email",
            C.CONTACT,
            "email",
            "邮箱",
            "电子邮箱",
            "电子邮件",
            "e-mail",
            "mail",
            "yx",
        ),
        _f(
            "address",
            C.CONTACT,
            "text",
            "地址",
            "联系地址",
            "收货地址",
            "住址",
            "家庭住址",
            "addr",
            "street_address",
            "dz",
        ),
        _f(
            "bank_card",
            C.SENSITIVE,
            "bank_card",
            "银行卡号",
            "银行卡",
            "卡号",
            "bank_account",
            "card_no",
            "card_number",
            "yhkh",
            sensitive=True,
        ),
        _f(
            "registered_at",
            C.PREFERENCE,
            "date",
            "注册日期",
            "注册时间",
            "开户日期",
            "入会日期",
            "registered",
            "signup_date",
            "zcrq",
        ),
        _f(
            "purchase_frequency",
            C.PREFERENCE,
            "text",
            "购买频率",
            "消费频次",
            "frequency",
            "purchase_frequency",
            "gmpl",
        ),
        _f(
            "favourite_product",
            C.PREFERENCE,
            "text",
            "偏好产品",
            "喜好产品",
            "常购产品",
            "favorite_product",
            "preferred_product",
            "phcp",
        ),
        _f("habits", C.PREFERENCE, "text", "消费习惯", "购买习惯", "habits", "xfxg"),
        _f("order_id", C.TRANSACTION, "text", "订单号", "订单编号", "order_no", "ddh"),
        _f(
            "order_time",
            C.TRANSACTION,
            "datetime",
            "下单时间",
            "订单时间",
            "购买时间",
            "order_time",
            "order_date",
            "purchase_time",
            "xdsj",
        ),
        _f(
            "product",
            C.TRANSACTION,
            "text",
            "产品",
            "商品",
            "产品名称",
            "商品名称",
            "product_name",
            "item",
            "cp",
            "sp",
        ),
        _f(
            "amount",
            C.TRANSACTION,
            "amount",
            "金额",
            "订单金额",
            "消费金额",
            "实付金额",
            "total",
            "price",
            "je",
        ),
        _f("quantity", C.TRANSACTION, "integer", "数量", "购买数量", "qty", "sl"),
        _f(
            "note",
            C.FREE_TEXT,
            "text",
            "备注",
            "沟通记录",
            "通话记录",
            "客服记录",
            "notes",
            "remark",
            "remarks",
            "comment",
            "bz",
        ),
        _f("note_time", C.FREE_TEXT, "datetime", "记录时间", "沟通时间", "note_time", "noted_at"),
    )
}


def normalise_header(header: str) -> str:
    """Lower-case, strip spaces, underscores, dashes and BOM for synonym matching."""
    return (
        header.replace("\ufeff", "")
        .strip()
        .lower()
        .replace(" ", "")
        .replace("_", "")
        .replace("-", "")
    )


SYNONYMS: dict[str, str] = {
    normalise_header(s): spec.name for spec in FIELDS.values() for s in spec.synonyms
}
