"""`make bench`: run every benchmark, each in its own process, and print their tables.

Usage: python -m benchmarks [name ...]   (names: the modules below, without "benchmarks.")
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

BENCHMARKS = [
    "core_webhook",
    "core_delay",
    "core_startup",
    "publish_startup",
    "async_publish",
    "results_webhook",
    "results_cleanup",
    "devserver_throughput",
    "outbox",
    "ops_dashboard",
]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    failed = 0
    for name in names:
        if importlib.util.find_spec(f"benchmarks.{name}") is None:
            print(f"== {name}: not present, skipped\n")
            continue
        print(f"== {name}", flush=True)
        result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"])
        failed += result.returncode != 0
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
