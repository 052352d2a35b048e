"""Flow control: per-key parallelism and rate limits, kept in memory.

Limits come from the messages (``Upstash-Flow-Control-Value``), or from a pin set through the
API. Messages over a limit wait in the database until a slot or the next rate period frees up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

DEFAULT_PERIOD = 1.0


@dataclass
class _KeyState:
    parallelism: int | None = None
    rate: int | None = None
    period: float = DEFAULT_PERIOD
    in_flight: int = 0
    window_start_ms: int = 0
    window_count: int = 0
    paused: bool = False
    pinned_parallelism: int | None = None
    pinned_rate: int | None = None
    pinned_period: float | None = None

    @property
    def parallelism_max(self) -> int | None:
        return self.pinned_parallelism or self.parallelism

    @property
    def rate_max(self) -> int | None:
        return self.pinned_rate or self.rate

    @property
    def period_s(self) -> float:
        return self.pinned_period or self.period


class FlowLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _KeyState] = {}
        self.global_in_flight = 0

    def _state(self, key: str) -> _KeyState:
        return self._keys.setdefault(key, _KeyState())

    def configure(
        self, key: str, parallelism: int | None, rate: int | None, period: float | None
    ) -> None:
        """The latest message's limits apply to the key (as with QStash)."""
        with self._lock:
            state = self._state(key)
            state.parallelism = parallelism
            state.rate = rate
            state.period = period or DEFAULT_PERIOD

    def _roll(self, state: _KeyState, now_ms: int) -> None:
        if now_ms - state.window_start_ms >= state.period_s * 1000:
            state.window_start_ms = now_ms
            state.window_count = 0

    def allowance(self, key: str, now_ms: int) -> int:
        """How many attempts with this key may start now."""
        with self._lock:
            state = self._state(key)
            if state.paused:
                return 0
            self._roll(state, now_ms)
            allowed = 1_000_000
            if state.parallelism_max:
                allowed = min(allowed, state.parallelism_max - state.in_flight)
            if state.rate_max:
                allowed = min(allowed, state.rate_max - state.window_count)
            return max(0, allowed)

    def acquire(self, key: str, now_ms: int) -> None:
        with self._lock:
            state = self._state(key)
            self._roll(state, now_ms)
            state.in_flight += 1
            state.window_count += 1

    def release(self, key: str) -> None:
        with self._lock:
            state = self._state(key)
            state.in_flight = max(0, state.in_flight - 1)

    def next_window_ms(self, now_ms: int) -> int | None:
        """When the earliest rate-limited key gets a fresh period (after ``now_ms``)."""
        with self._lock:
            ends = [
                state.window_start_ms + int(state.period_s * 1000)
                for state in self._keys.values()
                if state.rate_max and state.window_count >= state.rate_max
            ]
        future = [end for end in ends if end > now_ms]
        return min(future) if future else None

    # ---------------------------------------------------------------- API

    def known_keys(self) -> list[str]:
        with self._lock:
            return sorted(self._keys)

    def set_paused(self, key: str, paused: bool) -> None:
        with self._lock:
            self._state(key).paused = paused

    def pin(
        self, key: str, parallelism: int | None, rate: int | None, period: float | None
    ) -> None:
        with self._lock:
            state = self._state(key)
            if parallelism is not None:
                state.pinned_parallelism = parallelism
            if rate is not None:
                state.pinned_rate = rate
            if period is not None:
                state.pinned_period = period

    def unpin(self, key: str, parallelism: bool, rate: bool) -> None:
        with self._lock:
            state = self._state(key)
            if parallelism:
                state.pinned_parallelism = None
            if rate:
                state.pinned_rate = None
                state.pinned_period = None

    def reset_rate(self, key: str, now_ms: int) -> None:
        """Clear the count and start a new period now (what the SDKs document)."""
        with self._lock:
            state = self._state(key)
            state.window_count = 0
            state.window_start_ms = now_ms

    def info(self, key: str, wait_list_size: int) -> dict[str, Any]:
        with self._lock:
            state = self._state(key)
            return {
                "flowControlKey": key,
                "waitListSize": wait_list_size,
                "parallelismMax": state.parallelism_max or 0,
                "parallelismCount": state.in_flight,
                "rateMax": state.rate_max or 0,
                "rateCount": state.window_count,
                "ratePeriod": int(state.period_s),
                "ratePeriodStart": state.window_start_ms,
                "isPaused": state.paused,
                "isPinnedParallelism": state.pinned_parallelism is not None,
                "isPinnedRate": state.pinned_rate is not None,
            }
