"""Secrets the CLI takes from the environment or a private file, never from its arguments."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dealvault.errors import Invalid
from dealvault.files import file_problem, read_text_file


def _has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except ArgumentError:
        raise Invalid("the SQL URL is not a valid SQLAlchemy URL") from None


def sql_source_url(*, url: str | None, env: str | None, file: Path | None) -> str | None:
    """The SQL URL of an import source from exactly one of: ``--sql-url`` (refused when it
    holds a password: every user of the machine can read process arguments), an environment
    variable named by ``--sql-url-env``, or a private file given by ``--sql-url-file``."""
    given = [x for x in (url, env, file) if x is not None]
    if len(given) > 1:
        raise Invalid("give the SQL URL once: --sql-url, --sql-url-env or --sql-url-file")
    if url is not None:
        if _has_password(url):
            raise Invalid(
                "--sql-url holds a password, which every user of this machine can read in the "
                "process list; put the URL in an environment variable (--sql-url-env NAME) or "
                "a file readable only by you (--sql-url-file FILE)"
            )
        return url
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise Invalid(f"environment variable {env} is not set or empty")
        _has_password(value)
        return value.strip()
    if file is not None:
        problem = file_problem(file)
        if problem is not None:
            raise Invalid(f"{file}: cannot read the SQL URL file ({problem})")
        if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise Invalid(f"{file}: readable by others; run: chmod 600 {file}")
        lines = read_text_file(file).splitlines()
        if not lines or not lines[0].strip():
            raise Invalid(f"{file}: the first line must be the SQL URL")
        _has_password(lines[0].strip())
        return lines[0].strip()
    return None
