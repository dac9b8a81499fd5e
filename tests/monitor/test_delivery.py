"""Delivery of new alerts: by mail through a real SMTP server (aiosmtpd) to the deal's stewards
and security officers, and by a webhook to a real HTTP server that checks the HMAC signature;
a failed delivery is kept with the alert and tried again."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from dealvault.config import Settings
from dealvault.flows import admin
from dealvault.flows.alert_delivery import Delivery, deliver_pending
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import run_monitor
from dealvault.monitor.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    signature_problem,
)
from dealvault.monitor.models import Alert
from tests.conftest import OP, SELLER, World
from tests.monitor.conftest import Clock, append, denial
from tests.monitor.helpers import T0

SECRET = b"webhook secret of the test, 32 bytes"
SECURITY = "security@seller.example"


def test_a_signature_is_checked_over_the_timestamp_and_the_body() -> None:
    body, now = b'{"a":1}', 1_800_000_000
    stamp = str(now)
    good = signature(SECRET, timestamp=stamp, body=body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    ok = {"timestamp": stamp, "given": good, "body": body, "now": now}
    assert signature_problem(SECRET, **ok) is None  # type: ignore[arg-type]
    bad = [
        ({"body": b'{"a":2}'}, "does not match"),
        ({"given": signature(b"another key", timestamp=stamp, body=body)}, "does not match"),
        ({"given": signature(SECRET, timestamp=str(now + 1), body=body)}, "does not match"),
        ({"now": now + 301}, "more than 300 seconds"),
        ({"now": now - 301}, "more than 300 seconds"),
        ({"timestamp": None}, "missing or malformed"),
        ({"timestamp": "soon"}, "missing or malformed"),
        ({"given": None}, "missing X-Dealvault-Signature"),
    ]
    for change, why in bad:
        problem = signature_problem(SECRET, **{**ok, **change})  # type: ignore[arg-type]
        assert problem is not None and why in problem, change
    assert signature_problem(SECRET, **{**ok, "now": now + 300}) is None  # type: ignore[arg-type]


@dataclass
class Hook:
    """A webhook receiver: keeps what it was sent when the signature verifies."""

    url: str = ""
    status: int = 204
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            problem = signature_problem(
                SECRET,
                timestamp=self.headers.get(TIMESTAMP_HEADER),
                given=self.headers.get(SIGNATURE_HEADER),
                body=body,
            )
            if problem is None:
                state.received.append(json.loads(body))
                self.send_response(state.status)
            else:
                state.refused.append(problem)
                self.send_response(401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/dealvault"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    messages: list[tuple[str, str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content)
        payload = msg.get_payload(decode=True)
        text = payload.decode() if isinstance(payload, bytes) else str(payload)
        self.messages.append((str(msg["To"]), " ".join(str(msg["Subject"]).split()), text))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _alerts(stores: AppStores) -> list[tuple[int, Any, str | None, int]]:
    with stores.records_session() as s:
        return [
            (a.id, a.delivered_at, a.delivery_error, a.delivery_attempts)
            for a in s.scalars(select(Alert).order_by(Alert.id))
        ]


def test_new_alerts_are_mailed_and_posted_signed(
    stores: AppStores, clock: Clock, world: World, hook: Hook, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    admin.create_person(stores, actor=OP, email=SECURITY, name="Security", organization=SELLER)
    admin.add_member(stores, actor=OP, deal=world.deal, email=SECURITY, role="security_officer")
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        alert_mail=True,
        alert_mail_to=["soc@seller.example"],
        alert_webhook_url=hook.url,
        alert_webhook_secret=SECRET.decode(),  # type: ignore[arg-type]
        public_url="https://dataroom.example",
    )
    delivery = Delivery.from_settings(settings)
    append(stores, clock, T0, [denial(world.bidder_person, world.deal) for _ in range(5)])
    out = run_monitor(stores, actor=OP, delivery=delivery)
    assert (out.delivered, out.delivery_failed) == (1, 0)
    ((alert_id, delivered, error, attempts),) = _alerts(stores)
    assert delivered is not None and error is None and attempts == 1
    assert sorted(to for to, _, _ in box.messages) == sorted(
        [world.steward, SECURITY, "soc@seller.example"]
    )
    _, subject, body = box.messages[0]
    assert subject == f"[dealvault warning] {world.bidder_person} was refused in deal {world.deal}"
    assert f"refusals: 5 within 10 minutes by {world.bidder_person}" in body
    assert f"https://dataroom.example/api/alerts/{alert_id}" in body
    (posted,) = hook.received
    assert hook.refused == []
    assert posted["type"] == "dealvault.alert"
    assert posted["alert"]["id"] == alert_id and posted["alert"]["rule"] == "denials"
    # a growing alert is not sent again
    append(stores, clock, T0 + timedelta(minutes=1), [denial(world.bidder_person, world.deal)])
    assert run_monitor(stores, actor=OP, delivery=delivery).delivered == 0
    assert len(hook.received) == 1 and len(box.messages) == 3


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_failed_delivery_is_kept_and_tried_again(
    stores: AppStores, clock: Clock, world: World, hook: Hook
) -> None:
    hook.status = 500
    delivery = Delivery(webhook_url=hook.url, webhook_secret=SECRET)
    append(stores, clock, T0, [denial(world.bidder_person, world.deal) for _ in range(5)])
    out = run_monitor(stores, actor=OP, delivery=delivery)
    assert (out.delivered, out.delivery_failed) == (0, 1)
    ((_, delivered, error, attempts),) = _alerts(stores)
    assert delivered is None and attempts == 1
    assert error == "webhook: the alert webhook answered 500"
    hook.status = 200
    assert deliver_pending(stores, delivery) == (1, 0)
    ((_, delivered, error, attempts),) = _alerts(stores)
    assert delivered is not None and error is None and attempts == 2
    # a wrong key is refused by the receiver: nothing is accepted unsigned
    wrong = Delivery(webhook_url=hook.url, webhook_secret=b"not the key")
    append(stores, clock, T0 + timedelta(days=1), [denial(world.bidder_person, world.deal)] * 5)
    assert run_monitor(stores, actor=OP, delivery=wrong).delivery_failed == 1
    assert hook.refused == ["the X-Dealvault-Signature does not match the body"]
