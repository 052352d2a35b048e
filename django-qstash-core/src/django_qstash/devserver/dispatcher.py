"""The delivery loop: picks due messages from SQLite and runs their attempts on worker threads.

Plain publishes go out in parallel; a queue's messages start in FIFO order, at most
``parallelism`` at a time (a message waiting for its retry keeps its slot, as in QStash); flow
control keys limit parallelism and rate. Everything not picked stays in the database, so the
loop can stop at any moment and a restart resumes where it was.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.delivery import AttemptResult, Deliverer
from django_qstash.devserver.engine import Engine
from django_qstash.devserver.flow import FlowLimiter
from django_qstash.devserver.store import Store, StoredMessage

logger = logging.getLogger("django_qstash.devserver")

#: Longest sleep between two looks at the database (publishes and completions wake it sooner).
MAX_IDLE_SECONDS = 1.0
#: Longest wait of :meth:`Dispatcher.settle` for a pass of the loop.
SETTLE_SECONDS = 5.0


class WorkerPool:
    """Daemon threads, so an attempt hanging on a slow destination never blocks exit."""

    def __init__(self, size: int, work: Callable[[StoredMessage], None]) -> None:
        self._jobs: queue.SimpleQueue[StoredMessage | None] = queue.SimpleQueue()
        self._work = work
        self._threads = [
            threading.Thread(target=self._run, name=f"qstash-dev-worker-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, stored: StoredMessage) -> None:
        self._jobs.put(stored)

    def _run(self) -> None:
        while True:
            stored = self._jobs.get()
            if stored is None:
                return
            self._work(stored)

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        deliverer: Deliverer,
        flow: FlowLimiter,
        *,
        max_in_flight: int,
    ) -> None:
        self._store = store
        self._engine = engine
        self._deliverer = deliverer
        self._flow = flow
        self._max_in_flight = max_in_flight
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._idle = threading.Condition(self._lock)
        #: Passes of the loop begun and finished (see :meth:`settle`).
        self._passes = threading.Condition()
        self._passes_begun = 0
        self._passes_done = 0
        self._pool = WorkerPool(max_in_flight, self._attempt)
        self._thread = threading.Thread(
            target=self._loop, name="qstash-dev-dispatcher", daemon=True
        )
        engine.wake = self.wake

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace: float = 2.0) -> None:
        """Stop picking messages; give running attempts ``grace`` seconds to finish.

        Attempts still running afterwards stay marked in flight and are delivered again after
        the next start.
        """
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)
        with self._passes:
            self._passes.notify_all()  # a settle() still waiting returns now
        with self._idle:
            self._idle.wait_for(lambda: not self._in_flight, timeout=grace)
        self._pool.stop()

    def settle(self, timeout: float = SETTLE_SECONDS) -> None:
        """Return once a pass of the loop that began after this call has finished.

        Everything due when ``settle`` was called has then been started, or is waiting for a limit
        (parallelism, rate, a free worker). A flow-control reset waits for this: QStash counts an
        attempt when it starts, so a message published before the reset has its first attempt
        counted before the reset clears the count, never after.
        """
        if not self._thread.is_alive():
            return
        with self._passes:
            target = self._passes_begun + 1
            self._wake.set()
            self._passes.wait_for(
                lambda: self._passes_done >= target or self._stopping.is_set(), timeout
            )

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    # ---------------------------------------------------------------- the loop

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            with self._passes:
                self._passes_begun += 1
                current = self._passes_begun
            try:
                timeout = self._dispatch()
            except Exception:
                logger.exception("qstash dev server: the delivery loop failed; retrying")
                timeout = MAX_IDLE_SECONDS
            with self._passes:
                self._passes_done = current
                self._passes.notify_all()
            if timeout > 0:
                self._wake.wait(timeout)

    def _dispatch(self) -> float:
        """Start every attempt that may start now; return how long to sleep."""
        now = now_ms()
        with self._lock:
            free = self._max_in_flight - len(self._in_flight)
        picked = self._select(now, free) if free > 0 else []
        if picked:
            self._engine.start_attempts(picked, now)
            with self._lock:
                self._in_flight.update(stored.message.id for stored in picked)
            for stored in picked:
                self._pool.submit(stored)
        wake_at = [t for t in (self._store.next_due_ms(now), self._flow.next_window_ms(now)) if t]
        if picked and len(picked) >= free:
            return MAX_IDLE_SECONDS  # every worker is busy; a completion wakes the loop
        if not wake_at:
            return MAX_IDLE_SECONDS
        return max(0.0, min(MAX_IDLE_SECONDS, (min(wake_at) - now_ms()) / 1000))

    def _take_flow(self, stored: StoredMessage, now: int) -> bool:
        key = stored.message.flow_key
        if key is None:
            return True
        if self._flow.allowance(key, now) <= 0:
            return False
        self._flow.acquire(key, now)
        return True

    def _select(self, now: int, budget: int) -> list[StoredMessage]:
        picked: list[StoredMessage] = []
        with self._lock:
            busy = set(self._in_flight)

        def room() -> int:
            return budget - len(picked)

        # Plain publishes: all of them, in due order.
        for stored in self._store.due_messages(
            now, "queue_name IS NULL AND flow_key IS NULL", (), budget
        ):
            if stored.message.id not in busy:
                picked.append(stored)

        # Flow-controlled publishes: as many as each key allows.
        for key in self._store.due_flow_keys(now):
            if room() <= 0:
                break
            for stored in self._store.due_messages(
                now, "queue_name IS NULL AND flow_key = ?", (key,), room()
            ):
                if stored.message.id in busy:
                    continue
                if not self._take_flow(stored, now):
                    break
                picked.append(stored)

        # Queues: retries of started messages (they hold a slot), then FIFO heads.
        queues = {q.name: q for q in self._store.list_queues()}
        for name, (active, _waiting) in self._store.queue_activity().items():
            if room() <= 0:
                break
            queue_ = queues.get(name)
            if queue_ is not None and queue_.paused:
                continue
            parallelism = queue_.parallelism if queue_ is not None else 1
            for stored in self._store.due_messages(
                now, "queue_name = ? AND retried > 0", (name,), room()
            ):
                if stored.message.id not in busy and self._take_flow(stored, now):
                    picked.append(stored)
            slots = min(parallelism - active, room())
            if slots <= 0:
                continue
            for stored in self._store.queue_heads(name, slots):
                if stored.due_ms > now or stored.message.id in busy:
                    continue  # a delayed message does not hold up the ones behind it
                if not self._take_flow(stored, now):
                    break
                picked.append(stored)
        return picked

    # ---------------------------------------------------------------- one attempt

    def _attempt(self, stored: StoredMessage) -> None:
        try:
            try:
                result = self._deliverer.attempt(stored)
            except Exception as exc:  # a bug of ours must not lose the message
                logger.exception("qstash dev server: attempt of %s crashed", stored.message.id)
                result = AttemptResult(0, {}, b"", f"{type(exc).__name__}: {exc}")
            if not self._stopping.is_set() or result.status:
                self._engine.complete(stored, result)
        except Exception:
            if self._stopping.is_set():
                return  # the store is closing: still in flight, so delivered after a restart
            logger.exception(
                "qstash dev server: could not record the attempt of %s", stored.message.id
            )
        finally:
            if stored.message.flow_key:
                self._flow.release(stored.message.flow_key)
            with self._idle:
                self._in_flight.discard(stored.message.id)
                self._idle.notify_all()
            self._wake.set()
