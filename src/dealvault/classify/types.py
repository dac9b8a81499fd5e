"""What each PII type is: category, GB/T 35273 sensitivity, ingest field, evidence weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dealvault.ingest.fields import Category

C = Category

IDENT: Final = r"^[A-Za-z0-9][A-Za-z0-9\-_/#.]{0,40}$"
NEVER_ALONE: Final = 1.01  # a share no column reaches: the header must name the type


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """Properties of one PII type.

    ``strength``: how telling a validated match is (scales the confidence).
    ``alone``: share of validated values needed when the header says nothing.
    ``shape``: loose pattern that lets a matching header decide when values do not validate
    (None: the values must validate, a header alone never makes the type).
    """

    category: Category
    sensitive: bool
    field: str | None
    strength: float
    alone: float
    shape: str | None = None


TYPES: Final[dict[str, TypeInfo]] = {
    # GB/T 35273-2020 appendix B: identity documents and financial accounts are sensitive.
    "cn_ric": TypeInfo(C.SENSITIVE, True, "id_number", 1.0, 0.8),
    "cn_passport": TypeInfo(C.SENSITIVE, True, None, 0.9, 0.85, r"^[A-Z]{1,2}\d{7,8}$"),
    "hk_macau_permit": TypeInfo(C.SENSITIVE, True, None, 0.9, 0.85, r"^[A-Z]{1,2}\d{7,10}$"),
    "tw_permit": TypeInfo(
        C.SENSITIVE, True, None, 0.9, 0.85, r"^(?:[A-Z]?\d{8}|\d{10}\(?[A-Z]?\)?)$"
    ),
    "bank_card": TypeInfo(C.SENSITIVE, True, "bank_card", 1.0, 0.8),
    "credit_card": TypeInfo(C.SENSITIVE, True, "bank_card", 1.0, 0.8),
    "iban": TypeInfo(C.SENSITIVE, True, None, 1.0, 0.8),
    # Organisation code (personal only for sole proprietors).
    "uscc": TypeInfo(C.IDENTITY, False, None, 1.0, 0.8),
    "license_plate": TypeInfo(C.IDENTITY, False, None, 0.95, 0.85),
    "ipv4": TypeInfo(C.IDENTITY, False, None, 0.9, 0.85),
    "ipv6": TypeInfo(C.IDENTITY, False, None, 1.0, 0.85),
    "cn_mobile": TypeInfo(C.CONTACT, False, "phone", 0.95, 0.8),
    "cn_landline": TypeInfo(C.CONTACT, False, "phone", 0.9, 0.85, r"^[\d\s\-()+转]{7,20}$"),
    "intl_phone": TypeInfo(C.CONTACT, False, "phone", 0.95, 0.85),
    "email": TypeInfo(C.CONTACT, False, "email", 1.0, 0.8),
    "cn_address": TypeInfo(C.CONTACT, False, "address", 0.85, 0.7, r"^.{4,}$"),
    "cn_name": TypeInfo(C.IDENTITY, False, "name", 0.7, 0.75, r"^.{1,40}$"),
    "gender": TypeInfo(C.IDENTITY, False, "gender", 0.85, 0.9, r"^\w{1,8}$"),
    "date_of_birth": TypeInfo(C.IDENTITY, False, "birth_date", 0.85, 0.85),
    "customer_id": TypeInfo(C.IDENTITY, False, "customer_key", 0.7, 0.9, IDENT),
    "order_id": TypeInfo(C.TRANSACTION, False, "order_id", 0.7, 0.9, IDENT),
    "date": TypeInfo(C.TRANSACTION, False, None, 0.9, 0.85),
    "datetime": TypeInfo(C.TRANSACTION, False, None, 0.95, 0.85),
    "amount": TypeInfo(
        C.TRANSACTION, False, "amount", 0.8, 0.85, r"^[¥￥$]?\s*[+-]?[\d,]+(?:\.\d+)?\s*元?$"
    ),
    "quantity": TypeInfo(C.TRANSACTION, False, "quantity", 0.6, 0.95, r"^[+-]?\d+(?:\.0+)?$"),
    "product": TypeInfo(C.TRANSACTION, False, "product", 0.6, 0.7, r"^.{1,60}$"),
    "frequency": TypeInfo(C.PREFERENCE, False, "purchase_frequency", 0.8, 0.9, r"^.{1,20}$"),
    # A category: one of a few short labels (membership tier, customer level, status, channel).
    "label": TypeInfo(C.PREFERENCE, False, None, 0.75, 0.9, r"^.{1,20}$"),
    "free_text": TypeInfo(C.FREE_TEXT, False, "note", 0.7, 0.7, r"^.+$"),
    # International columns (classify/intl.py). Identity documents are sensitive.
    "us_ssn": TypeInfo(C.SENSITIVE, True, None, 1.0, 0.8),
    "passport": TypeInfo(C.SENSITIVE, True, None, 0.9, NEVER_ALONE),
    "driving_licence": TypeInfo(C.SENSITIVE, True, None, 0.9, NEVER_ALONE),
    "vin": TypeInfo(C.IDENTITY, False, None, 1.0, 0.8, r"^[A-HJ-NPR-Z0-9]{17}$"),
    "person_name": TypeInfo(C.IDENTITY, False, "name", 0.85, 0.7),
    "street_address": TypeInfo(C.CONTACT, False, "address", 0.9, 0.7),
    # "Name <a@b.example>": contact data; the e-mail field keeps bare addresses only.
    "contact_email": TypeInfo(C.CONTACT, False, None, 0.95, 0.6),
    "age": TypeInfo(C.IDENTITY, False, None, 0.75, 0.9),
}

# Types whose canonical field comes from the header when it names one (注册日期 ->
# registered_at, 偏好产品 -> favourite_product, 记录时间 -> note_time).
FIELD_FROM_HEADER: Final = frozenset({"date", "datetime", "product", "free_text"})

# Random-looking personal numbers: a dense run of serial numbers is an identifier instead.
SERIAL_SUSPECTS: Final = frozenset(
    {"cn_mobile", "cn_landline", "bank_card", "credit_card", "cn_passport",
     "hk_macau_permit", "tw_permit", "passport", "driving_licence"}
)  # fmt: skip

# Types whose shapes are too common to look for unless the header names them.
NEEDS_HEADER: Final = frozenset({"passport", "driving_licence"})

# Types decided together: the family qualifies on the sum of shares, the best member wins.
FAMILIES: Final[tuple[frozenset[str], ...]] = (
    frozenset({"cn_mobile", "cn_landline", "intl_phone"}),
    frozenset({"ipv4", "ipv6"}),
    frozenset({"cn_name", "person_name"}),
    frozenset({"cn_address", "street_address"}),
    frozenset({"email", "contact_email"}),
    frozenset({"cn_passport", "passport"}),
)

# Tie-break order (specific before generic).
PRIORITY: Final = (
    "cn_ric", "us_ssn", "uscc", "iban", "bank_card", "credit_card", "email", "contact_email",
    "cn_mobile", "cn_landline", "intl_phone", "cn_passport", "hk_macau_permit", "tw_permit",
    "passport", "driving_licence", "vin", "license_plate", "ipv6", "ipv4", "datetime",
    "date_of_birth", "date", "amount", "cn_address", "street_address", "cn_name",
    "person_name", "gender", "frequency", "label", "order_id", "customer_id", "product", "age",
    "quantity", "free_text",
)  # fmt: skip
