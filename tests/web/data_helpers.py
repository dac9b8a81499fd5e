"""Set-up shared by the data pages' tests: a second dataset of invented customers spread over
provinces and months (some groups small enough to be suppressed, a product name crafted as a
spreadsheet formula), a bidder's business analyst and a clean-team member with or without an
approved masked grant."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta

from dealvault.access.agreements import SignerIn
from dealvault.flows import access_requests, accounts, admin, agreements
from tests.api.conftest import ANALYST, Server
from tests.conftest import OP, SELLER, STEWARD, P, train
from tests.vault.helpers import HEADERS, customer_row, do_import, write_csv
from tests.web.conftest import Browser, sign_up

DATASET = "shops"
CLEAN = "clean@bidder-a.example"
CLEAN_NAME = "Lin Qing"
COUNSEL = "counsel@law.example"
STEWARD2 = "steward2@seller.example"
#: a value a spreadsheet would run: planted as the favourite product of every tenth customer
FORMULA = '=HYPERLINK("http://evil.invalid/?x","click")'
#: where the customers live: two provinces too small to be released as they are
PLACES = (
    ("北京市朝阳区测试路1号", 60),  # 60
    ("上海市浦东新区测试路2号", 40),  # 40
    ("广东省广州市天河区测试路3号", 14),  # 14: hidden so that Sichuan cannot be worked out
    ("四川省成都市武侯区测试路4号", 6),  # 6: fewer than 10
)
CUSTOMERS = [
    customer_row(
        i,
        姓名="顾客" + "甲乙丙丁戊己庚辛壬癸"[i % 10] + "子丑寅卯辰巳午未申酉"[(i // 10) % 10],
        手机号=f"137{i:08d}",
        邮箱=f"shopper{i}@example.org",
        地址=address,
        偏好产品=FORMULA if i % 10 == 0 else "洗衣液",
        注册日期=f"2024-{i % 6 + 1:02d}-15",
    )
    for i, address in enumerate(a for a, n in PLACES for _ in range(n))
]
PERSONAL = ("姓名", "身份证号", "手机号", "邮箱")


def shop_values() -> frozenset[str]:
    """Every personal value of the dataset's customers."""
    return frozenset(row[c] for row in CUSTOMERS for c in PERSONAL if row[c])


def add_shops(server: Server) -> None:
    """Import the dataset ``shops`` into the deal (the steward, at the operator's console)."""
    home = server.settings.home
    path = write_csv(home / "shops.csv", CUSTOMERS, headers=[*HEADERS, "注册日期"])
    do_import(
        server.stores, server.app.state.dealvault.keyring, path, actor=P(STEWARD),
        deal=server.world.deal, rejects_dir=home, dataset=DATASET,
    )  # fmt: skip


def invite(server: Server, email: str, *, role: str, name: str, org: str) -> None:
    ctx = server.app.state.dealvault
    accounts.invite(
        server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
        deal=server.world.deal, email=email, role=role, name=name, organization=org,
    )  # fmt: skip


def business(server: Server, *, language: str = "en") -> Browser:
    """The bidder's business analyst (trained by the fixture), signed in."""
    invite(server, ANALYST, role="bidder_business", name="Analyst", org="Bidder A")
    return sign_up(server, ANALYST, language=language)


def clean_team(
    server: Server,
    *,
    language: str = "en",
    grant: bool = True,
    cap: int | None = 500,
    dataset: str = DATASET,
) -> Browser:
    """A clean-team member of Bidder A, trained, under a signed clean-team agreement, at the
    clean-team stage; with ``grant`` a masked grant on ``dataset`` (identity, contact,
    preference) approved by the steward and counsel, with row cap ``cap``."""
    stores, deal = server.stores, server.world.deal
    admin.create_organization(stores, actor=OP, name="Law LLP", kind="law_firm")
    admin.add_party(stores, actor=OP, deal=deal, organization="Law LLP", role="counsel")
    admin.create_person(stores, actor=OP, email=COUNSEL, name="Counsel", organization="Law LLP")
    admin.add_member(stores, actor=OP, deal=deal, email=COUNSEL, role="counsel")
    invite(server, CLEAN, role="bidder_clean_team", name=CLEAN_NAME, org="Bidder A")
    browser = sign_up(server, CLEAN, language=language)
    train(stores, CLEAN)
    agreements.add_agreement(
        stores, actor=P(STEWARD), deal=deal, organization="Bidder A", kind="clean_team",
        title="Clean-team agreement", effective=date.today() - timedelta(days=3),
        signers=[SignerIn(CLEAN)],
    )  # fmt: skip
    admin.advance_deal(stores, code=deal, to=None, winner=None, actor=P(STEWARD),
                       reason="clean team phase")  # fmt: skip
    if grant:
        req = access_requests.request_access(
            stores, actor=P(CLEAN), deal=deal, dataset=dataset,
            categories=["identity", "contact", "preference"], level="masked",
            purpose="spot checks of contact quality", duration_days=14, row_cap=cap,
        )  # fmt: skip
        access_requests.approve_request(stores, actor=P(STEWARD), request_id=req.id)
        done = access_requests.approve_request(stores, actor=P(COUNSEL), request_id=req.id)
        assert done.status == "approved"
    return browser


def steward(server: Server, *, language: str = "en") -> Browser:
    """A second steward of the seller, invited by the first, signed in."""
    invite(server, STEWARD2, role="seller_steward", name="Second Steward", org=SELLER)
    train(server.stores, STEWARD2)
    return sign_up(server, STEWARD2, language=language)


def rows_left(page: str) -> int:
    m = re.search(r'data-rows-left="(\d+)"', page)
    assert m, "the page shows no row cap left"
    return int(m.group(1))


def xlsx_drawings(body: bytes) -> str:
    """The text of every drawing (text boxes) of a workbook."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        return "\n".join(
            z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/drawings/")
        )
