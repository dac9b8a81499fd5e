"""Every page of the steward's area for every role that has one, in English and in Chinese:
the page, or the refusal with the flow's reason (recorded), and never a personal value."""

from __future__ import annotations

from tests.api.conftest import Server
from tests.web.conftest import Browser
from tests.web.steward_setup import (
    DEAL,
    broker,
    business,
    clean_team,
    counsel,
    events,
    no_personal_value,
    officer,
    steward,
)

#: page -> a Chinese phrase of that page (role-independent)
PAGES = {
    "": None,  # the overview: the phrase depends on the role's panel, see OVERVIEW
    "/inventory": "数据清单",
    "/people": "登录状态说明",
    "/requests": "汇总以上级别的数据只能通过已批准的申请开放",
    "/agreements": "先保密，后内容",
    "/timeline": "每个阶段规定了各角色可查看数据的最高级别",
}
OVERVIEW = {
    "steward": "交易概览",
    "counsel": "您在本交易中的职责",
    "intermediary": "您在本交易中的职责",
    "officer": "您在本交易中的职责",
    "clean": "您的访问申请",
    "business": "您的访问申请",
}
#: (role, page) refused by the shipped policy
REFUSED = {
    ("counsel", "/people"),
    ("intermediary", "/people"),
    ("clean", "/people"),
    ("business", "/people"),
    ("clean", "/timeline"),
    ("business", "/timeline"),
}


def test_every_page_for_every_role_in_both_languages(server: Server) -> None:
    people: dict[str, Browser] = {
        "steward": steward(server),
        "counsel": counsel(server),
        "intermediary": broker(server),
        "officer": officer(server),
        "clean": clean_team(server),
        "business": business(server),
    }
    for role, b in people.items():
        for page, phrase in PAGES.items():
            url = f"/deals/{DEAL}{page}"
            for language in ("en", "zh"):
                b.http.cookies.set("dealvault-lang", language)
                answer = b.get(url)
                where = f"{role} {url} {language}"
                no_personal_value(answer)
                if (role, page) in REFUSED:
                    assert answer.status_code == 403, where
                    assert 'data-code="denied"' in answer.text, where
                    continue
                assert answer.status_code == 200, where
                if language == "zh":
                    assert (phrase or OVERVIEW[role]) in answer.text, where
        b.http.cookies.set("dealvault-lang", "en")
    refusals = events(server, "account.list", decision="deny") + events(
        server, "audit.log", decision="deny"
    )
    assert len(refusals) == 2 * len(REFUSED)  # each refusal recorded, in both languages
