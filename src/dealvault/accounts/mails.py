"""The mails an account receives (invitation, password reset), in Chinese and English in one
mail: the invitee's language is not known before they sign in, and a reset goes out in both
with the account's language first. A mail names the deal, the role and the link; never a
customer's value."""

from __future__ import annotations

from datetime import datetime

#: the roles as a mail names them (Chinese, English)
ROLE_NAMES = {
    "seller_steward": ("卖方数据管理员", "seller's data steward"),
    "bidder_business": ("竞买方业务团队", "bidder's business team"),
    "bidder_clean_team": ("竞买方清洁团队", "bidder's clean team"),
    "buyer_receiver": ("买方接收人", "buyer's receiver"),
    "counsel": ("律师", "counsel"),
    "intermediary": ("中介机构", "intermediary"),
    "security_officer": ("安全负责人", "security officer"),
    "auditor": ("审计师", "auditor"),
}


def _both(zh: str, en: str, *, first: str | None) -> str:
    parts = (en, zh) if first == "en" else (zh, en)
    return parts[0] + "\n----------------------------------------\n\n" + parts[1]


def invitation(
    *, public_url: str, secret: str, deal: str, code: str, role: str, by: str, until: datetime
) -> tuple[str, str]:
    """(subject, body) of an invitation to a deal's data room."""
    zh_role, en_role = ROLE_NAMES.get(role, (role, role))
    when = f"{until:%Y-%m-%d %H:%M} UTC"
    link = f"{public_url}/account/invite#{secret}"
    zh = (
        f"{by} 邀请您以“{zh_role}”身份进入交易“{deal}”的数据室。\n\n"
        f"请通过以下链接设置密码和第二验证因素（链接仅能使用一次，有效期至 {when}）：\n"
        f"{link}\n\n如果您没有预期收到这封邮件，请忽略它并告知发件人。\n"
    )
    en = (
        f"{by} invites you to the data room of the deal '{deal}' as {en_role}.\n\n"
        f"Set your password and a second factor here (the link works once, until {when}):\n"
        f"{link}\n\nIf you did not expect this mail, ignore it and tell the sender.\n"
    )
    return f"数据室邀请 / Invitation to deal {code} on dealvault", _both(zh, en, first=None)


def password_reset(
    *, public_url: str, secret: str, until: datetime, language: str | None
) -> tuple[str, str]:
    """(subject, body) of a password reset link."""
    when = f"{until:%Y-%m-%d %H:%M} UTC"
    link = f"{public_url}/account/reset#{secret}"
    zh = (
        "有人（希望是您本人）申请重置您的 dealvault 密码。\n\n"
        f"请通过以下链接设置新密码（链接仅能使用一次，有效期至 {when}）：\n{link}\n\n"
        "如果不是您本人申请，请忽略这封邮件；您的密码保持不变。\n"
    )
    en = (
        "Someone (we hope you) asked to reset your dealvault password.\n\n"
        f"Set a new one here (the link works once, until {when}):\n{link}\n\n"
        "If it was not you, ignore this mail; your password stays as it is.\n"
    )
    subject = "重置 dealvault 密码 / Reset your dealvault password"
    return subject, _both(zh, en, first=language)
