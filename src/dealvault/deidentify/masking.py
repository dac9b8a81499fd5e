"""Masked display forms of single values (张*明, 138****5678, a***@example.com, card last 4)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


def mask_name(value: str) -> str:
    if len(value) <= 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_phone(value: str) -> str:
    digits = "".join(_DIGITS.findall(value))
    if len(digits) >= 11:
        local = digits[-11:]
        return local[:3] + "****" + local[-4:]
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_id_number(value: str) -> str:
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_card(value: str) -> str:
    digits = "".join(_DIGITS.findall(value))
    return "**** " + digits[-4:] if len(digits) >= 4 else "****"


def mask_address(value: str) -> str:
    for marker in ("区", "县", "市"):
        cut = value.find(marker)
        if 0 < cut < 16:
            return value[: cut + 1] + "***"
    return value[:6] + "***"


def mask_date(value: str) -> str:
    return value[:4] + "-**-**" if len(value) >= 4 else "****"


def mask_text(value: str) -> str:
    return f"[{len(value)} characters]"


MASKERS = {
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "email": mask_email,
    "bank_card": mask_card,
    "address": mask_address,
    "birth_date": mask_date,
    "note": mask_text,
}


def mask_field(field: str, value: str | None) -> str | None:
    """Masked form of a canonical field's value; unknown free text shows only its length."""
    if value is None:
        return None
    masker = MASKERS.get(field)
    if masker is not None:
        return masker(value)
    if field in (
        "gender",
        "customer_key",
        "registered_at",
        "purchase_frequency",
        "favourite_product",
        "habits",
        "order_id",
        "order_time",
        "product",
        "amount",
        "quantity",
        "note_time",
    ):
        return value
    return mask_text(value)
