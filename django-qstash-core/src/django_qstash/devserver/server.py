"""The dev server assembled: store, keys, engine, dispatcher, scheduler and the HTTP API.

Usable in-process too (tests, notebooks)::

    with DevServer(DevServerConfig(port=0, db=":memory:")) as server:
        print(server.url, server.token)
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType

from django_qstash.devserver.api.base import ApiContext
from django_qstash.devserver.api.router import Api
from django_qstash.devserver.config import DevServerConfig
from django_qstash.devserver.credentials import DEFAULT_CREDENTIALS
from django_qstash.devserver.delivery import Deliverer
from django_qstash.devserver.dispatcher import Dispatcher
from django_qstash.devserver.engine import Engine
from django_qstash.devserver.flow import FlowLimiter
from django_qstash.devserver.httpserver import ApiServer
from django_qstash.devserver.keys import KeyRing
from django_qstash.devserver.schedules import CronClock, Scheduler
from django_qstash.devserver.store import Store
from django_qstash.devserver.workflows import WorkflowRuns

logger = logging.getLogger("django_qstash.devserver")


class DevServer:
    def __init__(self, config: DevServerConfig | None = None) -> None:
        self.config = config = config or DevServerConfig()
        self.token = config.token or DEFAULT_CREDENTIALS.token
        self.store = Store(config.db)
        self.keys = KeyRing(self.store, config.current_signing_key, config.next_signing_key)
        self.flow = FlowLimiter()
        self.engine = Engine(self.store, config, self.flow)
        self.workflows = WorkflowRuns(self.store)
        self.engine.workflow_failed = self.workflows.failed
        self.deliverer = Deliverer(
            self.keys,
            default_timeout=config.default_timeout,
            max_connections=config.max_in_flight,
        )
        self.dispatcher = Dispatcher(
            self.store, self.engine, self.deliverer, self.flow, max_in_flight=config.max_in_flight
        )
        self.scheduler = Scheduler(self.store, self.engine, CronClock(config.cron_tick))
        self.api = Api(
            ApiContext(
                store=self.store,
                engine=self.engine,
                scheduler=self.scheduler,
                flow=self.flow,
                keys=self.keys,
                token=self.token,
                max_in_flight=config.max_in_flight,
                in_flight=lambda: self.dispatcher.in_flight,
                settle_dispatch=self.dispatcher.settle,
                workflows=self.workflows,
            )
        )
        if ":" in config.host:
            ApiServer.address_family = socket.AF_INET6
        # Binding here (not in start) makes a busy port fail fast, before anything runs.
        self.http = ApiServer((config.host, config.port), self.api.handle, verbose=config.verbose)
        self._thread: threading.Thread | None = None
        self.recovered = 0

    @property
    def port(self) -> int:
        return int(self.http.server_address[1])

    @property
    def url(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> DevServer:
        self.recovered = self.store.recover()
        if self.recovered:
            logger.info("redelivering %d message(s) that were in flight", self.recovered)
        self.dispatcher.start()
        self.scheduler.start()
        self._thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.scheduler.stop()
        self.dispatcher.stop()
        self.deliverer.close()
        self.store.close()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
