"""The server under test: the real ASGI app (httpx), a real SMTP server (aiosmtpd) for the
mails, both stores (SQLite and PostgreSQL), a deal with imported customers."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from dealvault.api.app import create_app
from dealvault.config import Settings
from dealvault.crypto.keyring import KeyRing
from dealvault.flows import admin
from dealvault.flows.context import AppStores
from dealvault.remote import COOKIE, Login, Remote
from tests.conftest import OP, STEWARD, P, World, train
from tests.vault.helpers import customer_row, do_import, write_csv

PASSWORD = "violet kettle harbour 1987 drums"  # invented; strong enough for zxcvbn
#: the invented customers the server fixture imports into deal clean-2026
CUSTOMERS = [customer_row(i, 手机号=f"139{i:08d}") for i in range(20)]
#: the columns of a customer row that hold a value of one person (the invented street address
#: is the same for all 20, so an aggregate by address may rightly show it)
PERSONAL_COLUMNS = ("姓名", "身份证号", "手机号", "邮箱")


def personal_values() -> frozenset[str]:
    """Every personal value of the imported customers: none may ever reach a party that
    holds no grant, in a response body or a header."""
    return frozenset(row[c] for row in CUSTOMERS for c in PERSONAL_COLUMNS if row[c])


def readable(content_type: str, body: bytes) -> str:
    """What a response shows a reader: its text, and the cells of an XLSX or Parquet file
    (compressed, so a value in them would not show in the raw bytes)."""
    if content_type.startswith("application/vnd.openxmlformats"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(
            "\t".join("" if v is None else str(v) for v in row)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    if content_type.startswith("application/vnd.apache.parquet"):
        import polars as pl

        return pl.read_parquet(io.BytesIO(body)).write_csv()
    return body.decode("utf-8", errors="replace")


def leaked(
    needles: frozenset[str], *, content_type: str, body: bytes, headers: str, sent: str = ""
) -> list[str]:
    """The personal values a response shows (its body, decoded, and its headers) that the
    request itself did not carry (an error that names the caller's own input is no leak)."""
    seen = readable(content_type, body) + "\n" + headers
    return sorted(v for v in needles if v in seen and v not in sent)


@dataclass
class Mailbox:
    """What the SMTP server received."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # to, subject, body
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(msg.get_payload())
        with self.lock:
            self.messages.append((str(msg["To"]), str(msg["Subject"]), text))
        return "250 OK"

    def link_secret(self, to: str, *, kind: str = "invite", timeout: float = 5) -> str:
        """The secret of the newest link mailed to ``to``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                found = [b for t, _, b in self.messages if t == to and f"/account/{kind}#" in b]
            if found:
                m = re.search(rf"/account/{kind}#(\S+)", found[-1])
                assert m is not None
                return m.group(1)
            time.sleep(0.02)
        raise AssertionError(f"no {kind} mail to {to}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


ANALYST = "analyst@bidder-a.example"
OTHER = "analyst@bidder-b.example"


@dataclass
class Server:
    app: Any
    stores: AppStores
    settings: Settings
    mailbox: Mailbox
    world: World

    def client(self) -> TestClient:
        """A client of the real ASGI app over (simulated) HTTPS from 127.0.0.1."""
        return TestClient(self.app, base_url="https://testserver", client=("127.0.0.1", 50000))


@pytest.fixture
def server(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Server:
    """A deal at due diligence with 20 customers; the steward signs in locally (operator
    mode), every other party through the server."""
    admin.create_person(stores, actor=OP, email=OTHER, name="Other", organization="Bidder B")
    do_import(stores, keyring, write_csv(tmp_path / "c.csv", CUSTOMERS), actor=P(STEWARD),
              deal=world.deal, rejects_dir=tmp_path)  # fmt: skip
    admin.advance_deal(stores, code=world.deal, to=None, winner=None, actor=P(STEWARD),
                       reason="teaser round done")  # fmt: skip
    train(stores, ANALYST)
    return serve(stores, keyring, world, tmp_path, mailbox, monkeypatch)


def serve(
    stores: AppStores,
    keyring: KeyRing,
    world: World,
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Server:
    """The server application on ``stores`` as the world stands now."""
    for key in ("DEALVAULT_HOME", "DEALVAULT_ACTOR"):
        monkeypatch.delenv(key, raising=False)
    box, port = mailbox
    settings = Settings(
        home=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        public_url="https://dataroom.example",
        login_max_failures=3,
        client_max_failures=50,
    )
    app = create_app(settings, keyring=keyring, stores=stores)
    return Server(app=app, stores=stores, settings=settings, mailbox=box, world=world)


@dataclass
class Signed:
    """A signed-in browser-like client: the cookie in its jar, the CSRF token at hand."""

    http: httpx.Client
    csrf: str
    totp: pyotp.TOTP | None = None
    recovery: list[str] = field(default_factory=list)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.http.post(url, headers={"X-CSRF-Token": self.csrf}, **kw)


def activate(server: Server, email: str, *, password: str = PASSWORD) -> Signed:
    """Follow the mailed invitation: password, TOTP enrolment; fully signed in."""
    http = server.client()
    secret = server.mailbox.link_secret(email)
    r = http.post("/api/account/activate", json={"secret": secret, "password": password})
    assert r.status_code == 200, r.text
    assert r.json()["next"] == "enrol"
    csrf = r.json()["csrf"]
    begin = http.post("/api/account/totp/begin", headers={"X-CSRF-Token": csrf})
    assert begin.status_code == 200, begin.text
    assert begin.json()["qr_svg"].startswith("<svg")
    totp = pyotp.TOTP(pyotp.parse_uri(begin.json()["uri"]).secret)
    done = http.post(
        "/api/account/totp/finish", json={"code": totp.now()}, headers={"X-CSRF-Token": csrf}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    return Signed(
        http=http, csrf=body["session"]["csrf"], totp=totp, recovery=body["recovery_codes"]
    )


def member(server: Server, email: str, *, role: str, org: str) -> Signed:
    """``email`` of ``org`` invited by the steward to a role in the deal, fully signed in."""
    from dealvault.flows import accounts

    ctx = server.app.state.dealvault
    accounts.invite(server.stores, actor=P(STEWARD), rules=ctx.rules, mailer=ctx.mailer,
                    deal=server.world.deal, email=email, role=role, name="Member",
                    organization=org)  # fmt: skip
    return activate(server, email)


def remote_of(server: Server, me: Signed) -> Remote:
    """The remote CLI's client, signed in with ``me``'s session, talking to the ASGI app."""
    secret = me.http.cookies.get(COOKIE)
    assert secret
    login = Login(server="https://testserver", email="", kind="session", secret=secret,
                  csrf=me.csrf)  # fmt: skip
    return Remote(login, transport=server.client()._transport)
