"""A PDF report with Chinese text refuses to print boxes when no Chinese font is installed."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from dealvault import documents, fonts
from dealvault.audit.report import ReportInput, render_pdf
from dealvault.errors import Invalid


def _data(title: str) -> ReportInput:
    return ReportInput(
        title=title,
        generated_at=datetime(2026, 12, 6, tzinfo=UTC),
        origin="dealvault.invalid/log-test",
        events=[],
        people={},
        verification={"ok": True, "events": 0, "problems": [], "checkpoints": []},
        checkpoints=[],
    )


def test_chinese_text_without_a_chinese_font_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "cjk_fonts", lambda: [])
    with pytest.raises(Invalid, match="fonts-noto-cjk"):
        render_pdf(data=_data("审计报告 — 晶洁日用品有限公司"))


def test_cjk_detection() -> None:
    assert fonts.has_cjk("晶洁") and not fonts.has_cjk("Audit report")


def test_the_ci_machine_has_a_chinese_font() -> None:
    """.ci/run installs fonts-noto-cjk; the detection must find it (else PDFs would refuse)."""
    if not fonts.cjk_fonts():
        if os.environ.get("CI"):
            pytest.fail(".ci/run should have installed fonts-noto-cjk")
        pytest.skip("no Chinese font on this machine (apt-get install fonts-noto-cjk)")
    assert any("CJK" in f or "Noto" in f for f in fonts.cjk_fonts())
