"""Cold start for scale-to-zero: a fresh process's `django.setup()` and first `.delay()`.

Each sample is a new interpreter; the time is measured inside it, from before `import django` to
after the step, so interpreter start-up (the same for every candidate) does not dilute the
ratios. Candidates alternate round after round; each ratio is against the bare `django.setup()`
(no django-qstash app) measured in the same run. The first `.delay()` publishes to a loopback
stub that answers like QStash (benchmarks/_qstash_stub.py).

Targets: setup + first `.delay()` <= 1.20x bare; setup with the three apps <= 1.10x bare.

Where the first publish's time goes (`python -X importtime`): importing qstash, httpx and
httpcore, PyJWT (the SDK's Receiver), and wherever they are installed, httpx's command-line
interface (click, rich, pygments) and trio (httpcore); then the client's TLS context (certifi's
store) and the request. The SDK is imported as it is, on the first publish: an environment
without the optional packages (a typical deployment) pays for none of them. `django.setup()`
with the three apps paid for croniter and dateutil, now imported on first use.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from django_qstash.devserver.process import stop_process

ROOT = Path(__file__).resolve().parent.parent

SETUP_ONLY = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import django
django.setup()
print(time.perf_counter() - t0, time.process_time() - c0)
"""

FIRST_DELAY = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import django
django.setup()
from benchmarks.startup_tasks import startup_noop
result = startup_noop.delay(1)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
assert result.id == "msg_benchmark", result.id
print(elapsed, cpu)
"""

#: name -> (code, settings module)
CANDIDATES = {
    "bare django.setup()": (SETUP_ONLY, "benchmarks.settings_bare"),
    "setup, core app": (SETUP_ONLY, "benchmarks.settings"),
    "setup, three apps": (SETUP_ONLY, "benchmarks.settings_apps"),
    "setup + first .delay()": (FIRST_DELAY, "benchmarks.settings"),
}
BASELINE = "bare django.setup()"


def sample(code: str, settings: str, qstash_url: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process's step."""
    env = {
        **os.environ,
        # A deployed image has its bytecode compiled; without it each sample would time the
        # compiler (the first, discarded round writes it).
        "PYTHONDONTWRITEBYTECODE": "",
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": str(ROOT),
        "QSTASH_URL": qstash_url,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def start_stub() -> tuple[subprocess.Popen[str], str]:
    stub = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._qstash_stub"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    return stub, f"http://127.0.0.1:{stub.stdout.readline().strip()}"


def main(rounds: int = 15) -> str:
    stub, url = start_stub()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CANDIDATES}
    try:
        for name, (code, settings) in CANDIDATES.items():
            sample(code, settings, url)  # warm-up: writes bytecode, fills the OS file cache
        for _ in range(rounds):
            for name, (code, settings) in CANDIDATES.items():
                samples[name].append(sample(code, settings, url))
    finally:
        stop_process(stub)  # type: ignore[arg-type]
    # CPU time too: on a shared machine it counts the work done, not the wait for a core.
    walls = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpus = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    width = max(len(name) for name in walls)
    lines = [
        f"Cold start in a fresh process ({rounds} rounds, medians)",
        f"  {'':<{width}}  {'wall ms':>8}  {'ratio':>6}  {'CPU ms':>8}  {'ratio':>6}",
    ]
    for name in walls:
        lines.append(
            f"  {name:<{width}}  {walls[name] * 1e3:8.1f}  {walls[name] / walls[BASELINE]:5.2f}x"
            f"  {cpus[name] * 1e3:8.1f}  {cpus[name] / cpus[BASELINE]:5.2f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(main(rounds))
