"""Cold start for scale-to-zero: a fresh process's `django.setup()` and first `.delay()`.

Each sample is a new interpreter; the time is measured inside it, from before `import django` to
after the step, so interpreter start-up (the same for every candidate) does not dilute the
ratios. Candidates alternate round after round; each ratio is against the bare `django.setup()`
(no django-qstash app) measured in the same run. The first `.delay()` publishes to a loopback
stub that answers like QStash (benchmarks/_qstash_stub.py).

Two environments, one table each: a virtualenv with only what a deployment installs (the three
distributions and their dependencies at the versions of uv.lock, built with uv on the first run
and refreshed with this checkout's code on every run), then this interpreter's (the workspace's
development environment). `--env PATH` runs in another Python instead.

    python -m benchmarks.publish_startup [rounds] [--env deployment|workspace|PATH ...]

Targets: setup + first `.delay()` <= 1.20x bare; setup with the three apps <= 1.10x bare.

`django.setup()` with the three apps imports what defining the tasks and the models needs: the
option table, the models, and of the hook API the names the apps use then (`hooks` imports
each name from its module on first read). Not the publish pipeline, the SDK, the results app's
claim strategies, the result-store protocol's dataclasses, croniter or the database backend (the
models declare their table names, so Django does not load the backend to work them out);
regexes are compiled on first use.

Where the first publish's time goes, in the deployment environment (CPU, this machine, about
180 ms for a bare setup): importing httpx (~16 ms), the qstash SDK (~20 ms: its package imports
the async client and the Receiver, so PyJWT, with the sync client), httpcore and h11 (~18 ms, when
httpx builds its transport), httpx's default TLS context (~21 ms: certifi's whole bundle is parsed
when the client is built, even for an http:// URL), and django-qstash's own publish path (~10 ms).
The three imports alone are about 1.3x a bare setup, so 1.20x is out of reach while publishes go
through the SDK and httpx. With `SSL_CERT_DIR` pointing at the system's hashed CA directory (an
httpx setting, last row), the TLS context loads certificates only when a handshake needs them
(~2 ms). In the workspace's environment httpx also imports its command-line interface (click,
rich, pygments), httpcore imports trio (installed for selenium), and PyJWT imports cryptography.
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
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

#: The system's hashed CA directory (``/etc/ssl/certs`` on Debian and Ubuntu). Given to httpx as
#: ``SSL_CERT_DIR``, its TLS context loads a certificate when a handshake needs it, instead of
#: parsing certifi's whole bundle when the client is built.
CA_DIR = ssl.get_default_verify_paths().capath

#: name -> (code, settings module, extra environment)
CANDIDATES: dict[str, tuple[str, str, dict[str, str]]] = {
    "bare django.setup()": (SETUP_ONLY, "benchmarks.settings_bare", {}),
    "setup, core app": (SETUP_ONLY, "benchmarks.settings", {}),
    "setup, three apps": (SETUP_ONLY, "benchmarks.settings_apps", {}),
    "setup + first .delay()": (FIRST_DELAY, "benchmarks.settings", {}),
}
if CA_DIR and os.path.isdir(CA_DIR):
    CANDIDATES["  the same, SSL_CERT_DIR set"] = (
        FIRST_DELAY,
        "benchmarks.settings",
        {"SSL_CERT_DIR": CA_DIR},
    )
BASELINE = "bare django.setup()"
DISTRIBUTIONS = ("django-qstash-core", "django-qstash-results", "django-qstash-schedules")


def sample(
    python: str, code: str, settings: str, qstash_url: str, extra: dict[str, str]
) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process's step."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SSL_CERT_DIR", "SSL_CERT_FILE")},
        **extra,
        # A deployed image has its bytecode compiled; without it each sample would time the
        # compiler (the first, discarded round writes it).
        "PYTHONDONTWRITEBYTECODE": "",
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": str(ROOT),
        "QSTASH_URL": qstash_url,
    }
    out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def deployment_python() -> str:
    """The interpreter of a virtualenv holding only what a deployment installs.

    The three distributions (built from this checkout, not editable) and their dependencies at
    the versions of ``uv.lock``, without the development groups: no selenium/trio, no rich or
    click, none of what the workspace's environment adds. Built with uv on the first run (from
    its cache, or the package index), refreshed with this checkout's code on every run.
    """
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    venv = Path(tempfile.gettempdir()) / f"django-qstash-coldstart-{version}"
    python = venv / "bin" / "python"

    def run(*args: str) -> str:
        return subprocess.run(
            [uv, *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    if not python.exists():
        run("venv", "--quiet", "--python", version, str(venv))
    requirements = venv / "requirements.txt"
    requirements.write_text(
        run(
            "export",
            "--frozen",
            "--no-default-groups",
            "--no-hashes",
            "--no-emit-workspace",
            "--all-packages",
            "--quiet",
        )
    )
    run("pip", "install", "--quiet", "--python", str(python), "-r", str(requirements))
    packages = [str(ROOT / name) for name in DISTRIBUTIONS]
    run("pip", "install", "--quiet", "--python", str(python), "--no-deps", "--reinstall", *packages)
    return str(python)


def start_stub() -> tuple[subprocess.Popen[str], str]:
    stub = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._qstash_stub"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    return stub, f"http://127.0.0.1:{stub.stdout.readline().strip()}"


def measure(python: str, rounds: int, url: str) -> dict[str, tuple[float, float]]:
    """name -> (median wall seconds, median CPU seconds) in ``python``'s environment."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CANDIDATES}
    for name, (code, settings, extra) in CANDIDATES.items():
        # warm-up: writes bytecode, fills the OS file cache
        sample(python, code, settings, url, extra)
    for _ in range(rounds):
        for name, (code, settings, extra) in CANDIDATES.items():
            samples[name].append(sample(python, code, settings, url, extra))
    # CPU time too: on a shared machine it counts the work done, not the wait for a core.
    return {
        name: (
            statistics.median(w for w, _ in values),
            statistics.median(c for _, c in values),
        )
        for name, values in samples.items()
    }


def table(title: str, medians: dict[str, tuple[float, float]], rounds: int) -> list[str]:
    width = max(len(name) for name in medians)
    wall0, cpu0 = medians[BASELINE]
    lines = [
        f"Cold start in a fresh process, {title} ({rounds} rounds, medians)",
        f"  {'':<{width}}  {'wall ms':>8}  {'ratio':>6}  {'CPU ms':>8}  {'ratio':>6}",
    ]
    for name, (wall, cpu) in medians.items():
        lines.append(
            f"  {name:<{width}}  {wall * 1e3:8.1f}  {wall / wall0:5.2f}x"
            f"  {cpu * 1e3:8.1f}  {cpu / cpu0:5.2f}x"
        )
    return lines


def main(rounds: int = 15, environments: Sequence[str] = ("deployment", "workspace")) -> str:
    lines: list[str] = []
    stub, url = start_stub()
    try:
        for environment in environments:
            if environment == "workspace":
                python, title = sys.executable, f"this environment ({sys.prefix})"
            elif environment == "deployment":
                try:
                    python = deployment_python()
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    detail = getattr(exc, "stderr", "") or str(exc)
                    lines += [f"Deployment environment not built, skipped: {detail.strip()}", ""]
                    continue
                title = "deployment environment (the three packages and their locked dependencies)"
            else:
                python, title = environment, environment
            lines += [*table(title, measure(python, rounds, url), rounds), ""]
    finally:
        stop_process(stub)  # type: ignore[arg-type]
    return "\n".join(lines).rstrip()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=15)
    parser.add_argument(
        "--env",
        action="append",
        help="'deployment' (a virtualenv with only the three packages and their locked "
        "dependencies, built with uv), 'workspace' (this interpreter), or the path of a Python "
        "to run in; repeatable; default: deployment, then workspace",
    )
    arguments = parser.parse_args()
    print(main(arguments.rounds, arguments.env or ("deployment", "workspace")))
