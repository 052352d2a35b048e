"""Side-by-side timing: candidates are run interleaved, round after round, in one process, and
compared as ratios of medians against a baseline measured in the same run (the machine is shared
and noisy, so absolute times mean little)."""

from __future__ import annotations

import contextlib
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def qstash_stub() -> Iterator[str]:
    """The loopback QStash stub (``benchmarks/_qstash_stub.py``) in a process of its own, so the
    client under test has the interpreter to itself; yields its base URL."""
    stub = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._qstash_stub"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stub.stdout is not None
        yield f"http://127.0.0.1:{stub.stdout.readline().strip()}"
    finally:
        stub.terminate()
        stub.wait()


def per_call_seconds(func: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - start) / calls


def compare(
    candidates: dict[str, Callable[[], object]], *, calls: int, rounds: int, warmup: int = 200
) -> dict[str, float]:
    """Median seconds per call of each candidate over interleaved rounds."""
    for func in candidates.values():
        for _ in range(warmup):
            func()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, func in candidates.items():
            samples[name].append(per_call_seconds(func, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def compare_call_by_call(
    candidates: dict[str, Callable[[], object]], *, calls: int, warmup: int = 200, seed: int = 1
) -> dict[str, tuple[float, float]]:
    """(median, mean) seconds per call of each candidate, the candidates taking turns call by
    call, so that each sees the same moments of a busy machine; the mean leaves out each
    candidate's slowest 1% of calls (the moments another process had the core).

    The order of each turn is shuffled (with a fixed seed, so runs are alike): in a fixed order
    a candidate always follows the same other one, and what that one leaves behind (caches
    filled with other code, the server's other connection) counts as the candidate's own cost:
    the same code measured up to 20 µs (4% of a loopback publish) slower in one place of the
    order than in another.
    """
    for func in candidates.values():
        for _ in range(warmup):
            func()
    samples: dict[str, list[int]] = {name: [] for name in candidates}
    turn = list(candidates.items())
    shuffle = random.Random(seed).shuffle
    clock = time.perf_counter_ns
    for _ in range(calls):
        shuffle(turn)
        for name, func in turn:
            start = clock()
            func()
            samples[name].append(clock() - start)
    return {
        name: (
            statistics.median(values) / 1e9,
            statistics.fmean(sorted(values)[: max(1, len(values) * 99 // 100)]) / 1e9,
        )
        for name, values in samples.items()
    }


def call_by_call_tables(
    candidates: dict[str, Callable[[], object]], *, calls: int, baseline: str
) -> str:
    """:func:`compare_call_by_call`'s two estimates as two tables (median call, mean call)."""
    turns = compare_call_by_call(candidates, calls=calls)
    return "\n".join(
        [
            table(
                "Taking turns call by call: median call",
                {name: median for name, (median, _) in turns.items()},
                baseline,
            ),
            table(
                "Taking turns call by call: mean call (slowest 1% of each left out)",
                {name: mean for name, (_, mean) in turns.items()},
                baseline,
            ),
        ]
    )


def table(title: str, medians: dict[str, float], baseline: str, unit: str = "µs") -> str:
    scale = 1e6 if unit == "µs" else 1e3
    base = medians[baseline]
    width = max(len(name) for name in medians)
    lines = [title, f"  {'':<{width}}  {unit:>9}  {'ratio':>7}"]
    for name, value in medians.items():
        lines.append(f"  {name:<{width}}  {value * scale:9.1f}  {value / base:6.2f}x")
    return "\n".join(lines)


def wsgi_handler(urlconf: object) -> Any:
    """A WSGI handler whose requests resolve against ``urlconf`` instead of ROOT_URLCONF."""
    from django.core.handlers.wsgi import WSGIHandler, WSGIRequest

    handler = WSGIHandler()
    handler.request_class = type("Request", (WSGIRequest,), {"urlconf": urlconf})
    return handler


def postgres_dsn(config: dict[str, Any]) -> str:
    """A libpq connection string from a Django ``DATABASES`` entry."""
    parts = {
        "dbname": config["NAME"],
        "user": config.get("USER"),
        "password": config.get("PASSWORD"),
        "host": config.get("HOST"),
        "port": config.get("PORT"),
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)
