"""The languages of the pages: every message of the templates has its Chinese, the reasons
the flows give are translated (with the values they hold kept), a refusal joining several
reasons is translated reason by reason, and what has no entry is shown as the CLI words it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from dealvault.web.i18n import negotiate, translate, when, zone

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_of_the_pages_has_its_chinese() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "web_messages.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]


def test_reasons_are_translated_with_their_values() -> None:
    assert (
        translate("deal clean-2026 is frozen (temporary isolation)", language="zh")
        == "交易 clean-2026 已冻结（临时隔离）"
    )
    assert (
        translate("the password is too short: use at least 12 characters", language="zh")
        == "密码太短：请至少使用 12 个字符"
    )
    joined = translate(
        "access denied: deal d-1 is frozen (temporary isolation); "
        "confidentiality training of a@b.example: none on record",
        language="zh",
    )
    assert (
        joined
        == "拒绝访问：交易 d-1 已冻结（临时隔离）；没有 a@b.example 的 confidentiality 培训记录"
    )


def test_english_and_unknown_messages_stay_as_they_are() -> None:
    message = "deal clean-2026 is frozen (temporary isolation)"
    assert translate(message, language="en") == message
    odd = "something no catalogue knows: 100% {odd}"
    assert translate(odd, language="zh") == odd


def test_the_language_and_the_time_zone() -> None:
    assert negotiate(chosen=None, accept="en-GB,en;q=0.9") == "en"
    assert negotiate(chosen="en", accept="zh-CN") == "en"
    assert negotiate(chosen="fr", accept=None) == "zh"
    noon = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert "12:00" in when(noon, language="zh", tz=zone("Asia/Shanghai"))
    assert "04:00" in when(noon, language="en", tz=zone("Europe/London"))
    assert zone("Not/AZone").key == "Asia/Shanghai"
