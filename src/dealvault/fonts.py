"""Whether the machine can typeset Chinese: PDF reports refuse rather than print empty boxes."""

from __future__ import annotations

import re
import shutil
import subprocess

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
INSTALL_HINT = (
    "install a Chinese font (Debian/Ubuntu: apt-get install fonts-noto-cjk), or write the "
    "report as HTML (a file name ending in .html)"
)


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese characters."""
    return _CJK.search(text) is not None


def cjk_fonts() -> list[str]:
    """The font families fontconfig offers for Chinese (empty: none, or no fontconfig)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run(  # noqa: S603 - a fixed program and arguments
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})
