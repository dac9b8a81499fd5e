"""The server's monitor: a thread that evaluates the rules over new audit events every few
seconds, as the operator who started the server, and retries undelivered alerts."""

from __future__ import annotations

import logging
import threading

from dealvault.access.principal import Principal
from dealvault.errors import Busy, Forbidden, NotFound
from dealvault.flows.alert_delivery import Delivery, deliver_pending
from dealvault.flows.context import AppStores
from dealvault.flows.monitoring import RunOut, run_monitor

log = logging.getLogger("dealvault.monitor")


class MonitorTicker:
    """Runs :func:`run_monitor` every ``interval`` seconds until stopped. A run that finds
    the log busy is skipped; a refusal (the acting person may not run the monitor) stops it."""

    def __init__(
        self,
        stores: AppStores,
        *,
        actor: Principal,
        delivery: Delivery,
        interval: float,
        batch: int = 20_000,
    ) -> None:
        self.stores = stores
        self.actor = actor
        self.delivery = delivery
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> RunOut | None:
        """One run (None: skipped or stopped); never raises but for a refusal."""
        try:
            out = run_monitor(
                self.stores, actor=self.actor, delivery=self.delivery, batch=self.batch
            )
            deliver_pending(self.stores, self.delivery)  # earlier failures, again
            return out
        except Busy:
            return None
        except (Forbidden, NotFound) as exc:
            log.warning("monitor stopped: %s may not run it (%s)", self.actor.email, exc.code)
            self._stop.set()
            return None
        except Exception as exc:  # a failed run is tried again at the next tick
            log.warning("monitor run failed (%s)", type(exc).__name__)
            return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="dealvault-monitor", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
