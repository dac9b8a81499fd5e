"""Rows a use case reads many times (decision inputs, key rows), read once per scope.

A request that decides many times (the highest level of each category, then the disclosure
and the read it makes) would otherwise read the same rows (policy, roles, training,
agreements, grants; the dataset's key rows) from the database for every decision. Inside
:func:`remembered` each is read once; the memo is dropped at every flush, commit or rollback
of the session and when the block ends, so a decision never sees inputs older than the
session's last write.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "dealvault.decision_inputs"
T = TypeVar("T")


@contextmanager
def remembered(session: Session) -> Iterator[None]:
    """Within the block, each decision input is read from the database once."""
    outer = _KEY in session.info
    if not outer:
        session.info[_KEY] = {}
    try:
        yield
    finally:
        if not outer:
            session.info.pop(_KEY, None)


def active(session: Session) -> bool:
    """Whether ``session`` is inside :func:`remembered`."""
    return _KEY in session.info


def recall(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """``load()``, or inside :func:`remembered` the value it gave for ``key`` before."""
    memo: dict[Hashable, Any] | None = session.info.get(_KEY)
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return cast(T, memo[key])


def _forget(session: Session, *_: object) -> None:
    memo = session.info.get(_KEY)
    if memo:
        memo.clear()


for _name in ("after_flush", "after_commit", "after_rollback", "after_soft_rollback"):
    event.listen(Session, _name, _forget)
