"""Cold start: `django.setup()`, and the first signed delivery, in fresh processes.

Each sample is a new interpreter; the time is measured inside it, from before `import django` to
after the step, so interpreter start-up (the same for both) does not dilute the ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETUP_ONLY = """
import time
t0 = time.perf_counter()
import django
django.setup()
print(time.perf_counter() - t0)
"""

FIRST_DELIVERY = """
import io, sys, time
body = b'{"v":1,"task":"benchmarks.noop","args":[1],"kwargs":{}}'
token = sys.argv[1]
t0 = time.perf_counter()
import django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
env = {
    "REQUEST_METHOD": "POST", "PATH_INFO": sys.argv[2], "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
    "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.input": io.BytesIO(body),
    "HTTP_UPSTASH_SIGNATURE": token, "HTTP_UPSTASH_MESSAGE_ID": "msg_1",
}
statuses = []
out = b"".join(WSGIHandler()(env, lambda status, headers: statuses.append(status)))
elapsed = time.perf_counter() - t0
assert statuses[0].startswith("200"), (statuses, out)
print(elapsed)
"""


def sample(code: str, settings: str, *args: str) -> float:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main(rounds: int = 15) -> str:
    from tests.support.signing import make_token

    body = b'{"v":1,"task":"benchmarks.noop","args":[1],"kwargs":{}}'
    token = make_token(body, "http://127.0.0.1:8000/qstash/webhook/")
    setups: dict[str, list[float]] = {"bare settings": [], "with django_qstash": []}
    firsts: dict[str, list[float]] = {"bare JSON view": [], "django-qstash webhook": []}
    for _ in range(rounds):
        setups["bare settings"].append(sample(SETUP_ONLY, "benchmarks.settings_bare"))
        setups["with django_qstash"].append(sample(SETUP_ONLY, "benchmarks.settings"))
        firsts["bare JSON view"].append(
            sample(FIRST_DELIVERY, "benchmarks.settings_bare", token, "/bare/")
        )
        firsts["django-qstash webhook"].append(
            sample(FIRST_DELIVERY, "benchmarks.settings", token, "/qstash/webhook/")
        )
    lines = []
    for title, data, base in (
        ("django.setup() in a fresh process", setups, "bare settings"),
        ("First signed delivery in a fresh process (setup + request)", firsts, "bare JSON view"),
    ):
        medians = {name: statistics.median(values) for name, values in data.items()}
        lines.append(title)
        lines.append(f"  {'':<24}  {'ms':>8}  {'ratio':>7}")
        for name, value in medians.items():
            lines.append(f"  {name:<24}  {value * 1e3:8.1f}  {value / medians[base]:6.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
