"""The people of the steward's pages under test, each signed in through the pages (mailed
invitation, password, TOTP): the seller's steward, counsel, an intermediary, a security
officer and the bidders' people; and what they work on (agreements, access requests)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from dealvault.access.agreements import AgreementOut, SignerIn
from dealvault.audit.store import LogFilter, query
from dealvault.flows import accounts, admin, agreements
from tests.api.conftest import Server, personal_values
from tests.conftest import BIDDER_PERSON, OP, SELLER, STEWARD, P, train
from tests.web.conftest import Browser, sign_up

DEAL = "clean-2026"
COUNSEL = "counsel@law.example"
BROKER = "banker@broker.example"
OFFICER = "security@seller.example"
CLEAN = "clean@bidder-a.example"
BUSINESS = "business@bidder-a.example"
TODAY = date.today()
#: words of the Chinese pages (each appears on the page it is checked on)
ZH = {
    "dashboard": "交易概览",
    "inventory": "数据清单",
    "people": "邀请人员",
    "requests": "访问申请",
    "agreements": "协议登记簿",
    "timeline": "已记录的事件",
}


def invite(server: Server, email: str, *, role: str, org: str | None, by: str = STEWARD) -> None:
    ctx = server.app.state.dealvault
    accounts.invite(
        server.stores, actor=P(by) if by != "op" else OP, rules=ctx.rules, mailer=ctx.mailer,
        deal=DEAL, email=email, role=role, name=None if org is None else "Member " + role,
        organization=org,
    )  # fmt: skip


def steward(server: Server, *, language: str = "en") -> Browser:
    """The seller's steward, invited by the operator (nobody invites themself)."""
    invite(server, STEWARD, role="seller_steward", org=None, by="op")
    return sign_up(server, STEWARD, language=language)


def party(server: Server, name: str, *, kind: str, role: str) -> None:
    admin.create_organization(server.stores, actor=OP, name=name, kind=kind)
    admin.add_party(server.stores, actor=OP, deal=DEAL, organization=name, role=role)


def counsel(server: Server, *, language: str = "en") -> Browser:
    party(server, "Law LLP", kind="law_firm", role="counsel")
    invite(server, COUNSEL, role="counsel", org="Law LLP")
    return sign_up(server, COUNSEL, language=language)


def broker(server: Server, *, language: str = "en") -> Browser:
    party(server, "Broker Ltd", kind="intermediary", role="intermediary")
    invite(server, BROKER, role="intermediary", org="Broker Ltd")
    return sign_up(server, BROKER, language=language)


def officer(server: Server, *, language: str = "en") -> Browser:
    invite(server, OFFICER, role="security_officer", org=SELLER)
    return sign_up(server, OFFICER, language=language)


def clean_team(server: Server, *, language: str = "en") -> Browser:
    invite(server, CLEAN, role="bidder_clean_team", org="Bidder A")
    train(server.stores, CLEAN)
    return sign_up(server, CLEAN, language=language)


def business(server: Server, *, language: str = "en") -> Browser:
    """The analyst of Bidder A (a bidder_business member of the world) signing in."""
    invite(server, BIDDER_PERSON, role="bidder_business", org=None)
    return sign_up(server, BIDDER_PERSON, language=language)


def add_agreement(
    server: Server,
    *,
    org: str = "Bidder A",
    kind: str = "nda",
    expires: date | None = None,
    click: bool = False,
    signers: tuple[str, ...] = (),
) -> AgreementOut:
    doc = None
    if click:
        doc = server.settings.home / f"{kind}-{org}.txt"
        doc.write_text(f"Invented {kind} of {org}: keep the data room confidential.\n")
    return agreements.add_agreement(
        server.stores, server.app.state.dealvault.keyring, actor=P(STEWARD), deal=DEAL,
        organization=org, kind=kind, title=f"{kind} of {org}",
        effective=TODAY - timedelta(days=5), expires=expires, document=doc,
        acceptance="click" if click else "signed",
        signers=[SignerIn(s, TODAY - timedelta(days=5)) for s in signers],
    )  # fmt: skip


def events(server: Server, action: str, **match: object) -> list[dict[str, object]]:
    """The recorded events named ``action`` whose fields equal ``match``."""
    with server.stores.records_session() as s:
        found = query(s, flt=LogFilter(action=action, deal=DEAL, limit=10_000))
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def no_personal_value(page: httpx.Response) -> None:
    shown = page.text + "\n" + "\n".join(f"{k}: {v}" for k, v in page.headers.items())
    leaked = sorted(v for v in personal_values() if v in shown)
    assert not leaked, f"{len(leaked)} personal values on {page.url}"


def in_chinese(b: Browser, url: str, word: str) -> httpx.Response:
    """``url`` shown in Chinese (the language switch's cookie): ``word`` is on it."""
    b.http.cookies.set("dealvault-lang", "zh")
    try:
        page = b.get(url)
    finally:
        b.http.cookies.set("dealvault-lang", "en")
    assert page.status_code == 200, page.text[-800:]
    assert word in page.text, word
    assert 'lang="zh-CN"' in page.text
    return page


def without_csrf(b: Browser, url: str, data: dict[str, str]) -> httpx.Response:
    return b.http.post(url, data=data, follow_redirects=True)
