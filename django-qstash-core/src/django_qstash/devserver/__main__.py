"""``python -m django_qstash.devserver`` (also the ``qstash-dev`` script): run the dev server."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

from django_qstash.devserver.config import (
    DEFAULT_DB_DESCRIPTION,
    FAST_RETRY_SCALE,
    DevServerConfig,
)
from django_qstash.devserver.credentials import DEFAULT_HOST, DEFAULT_PORT, DEV_USERS


def add_arguments(parser: argparse.ArgumentParser, *, suppress_defaults: bool = False) -> None:
    """Add the dev server's flags (``suppress_defaults``: only flags given appear in the result)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress_defaults else value

    parser.add_argument(
        "--host", default=default(DEFAULT_HOST), help=f"interface (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=default(int(os.environ.get("QSTASH_DEV_PORT") or DEFAULT_PORT)),
        help=f"port (default $QSTASH_DEV_PORT or {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--db",
        default=default(""),
        help=f"SQLite file for messages, schedules, DLQ and logs (default {DEFAULT_DB_DESCRIPTION}"
        "; ':memory:' keeps nothing)",
    )
    parser.add_argument(
        "--fast-retries",
        action="store_true",
        default=default(False),
        help=f"dev/tests: scale every retry wait (backoff, Retry-After, Upstash-Retry-Delay) by "
        f"{FAST_RETRY_SCALE:g}; publish delays and countdowns are unchanged",
    )
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=default(None),
        help="scale retry waits by this factor (overrides --fast-retries)",
    )
    parser.add_argument(
        "--cron-tick",
        type=float,
        default=default(None),
        metavar="SECONDS",
        help="dev/tests: one cron minute lasts SECONDS (e.g. 2 makes '* * * * *' fire every 2s)",
    )
    parser.add_argument(
        "--user",
        type=int,
        choices=range(1, len(DEV_USERS) + 1),
        default=default(1),
        help="which of the official dev server's public test users to impersonate (default 1)",
    )
    parser.add_argument(
        "--token", default=default(None), help="accept this QSTASH_TOKEN instead of the user's"
    )
    parser.add_argument("--current-signing-key", default=default(None), help="sign with this key")
    parser.add_argument("--next-signing-key", default=default(None), help="the next signing key")
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=default(64),
        help="deliveries running at once (default 64)",
    )
    parser.add_argument(
        "--quiet", action="store_true", default=default(False), help="log failures only"
    )
    parser.add_argument(
        "--verbose", action="store_true", default=default(False), help="also log API requests"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m django_qstash.devserver",
        description=(
            "A local QStash-compatible server: the official SDKs publish to it, it delivers "
            "signed requests to your (loopback) endpoints, and it keeps its state in SQLite."
        ),
    )
    add_arguments(parser)
    return parser


#: The option names (``argparse`` dests) the dev server defines.
OPTION_NAMES = frozenset(vars(build_parser().parse_args([])))


def config_from_args(args: argparse.Namespace) -> DevServerConfig:
    user = DEV_USERS[args.user - 1]
    scale = args.retry_scale if args.retry_scale is not None else None
    if scale is None:
        scale = FAST_RETRY_SCALE if args.fast_retries else 1.0
    explicit_keys = args.current_signing_key or args.next_signing_key or args.user != 1
    return DevServerConfig(
        host=args.host,
        port=args.port,
        db=args.db,
        token=args.token or user.token,
        # Keys stored by a rotation win over the defaults, not over explicit ones.
        current_signing_key=args.current_signing_key
        or (user.current_signing_key if explicit_keys else None),
        next_signing_key=args.next_signing_key
        or (user.next_signing_key if explicit_keys else None),
        retry_scale=scale,
        cron_tick=args.cron_tick,
        max_in_flight=max(1, args.max_in_flight),
        quiet=args.quiet,
        verbose=args.verbose,
    )


#: Where ``manage.py runserver`` listens by default: the webhook's origin during development.
RUNSERVER_ORIGIN = "http://127.0.0.1:8000"


def banner(server: object) -> str:
    from django_qstash.devserver.server import DevServer

    assert isinstance(server, DevServer)
    current, next_key = server.keys.pair()
    config = server.config
    notes = [f"database {config.db}"]
    if config.retry_scale != 1.0:
        notes.append(f"retry waits x{config.retry_scale:g}")
    if config.cron_tick:
        notes.append(f"a cron minute lasts {config.cron_tick:g}s")
    if server.recovered:
        notes.append(f"{server.recovered} in-flight message(s) will be delivered again")
    return "\n".join(
        [
            f"QStash dev server running at {server.url}",
            f"  django-qstash dev server: {', '.join(notes)}. Ctrl-C stops it.",
            "",
            "The settings your Django project needs (in settings.py, or a .env file it reads):",
            "",
            f"QSTASH_URL={server.url}",
            f"QSTASH_TOKEN={server.token}",
            f"QSTASH_CURRENT_SIGNING_KEY={current}",
            f"QSTASH_NEXT_SIGNING_KEY={next_key}",
            f"DJANGO_QSTASH_DOMAIN={RUNSERVER_ORIGIN}",
            "DJANGO_QSTASH_FORCE_HTTPS=False",
            "",
            "DJANGO_QSTASH_DOMAIN is where this server delivers: your Django server. Start it",
            "in another terminal, then call .delay() on a task:",
            "",
            f"  python manage.py runserver {RUNSERVER_ORIGIN.removeprefix('http://')}",
            "",
        ]
    )


def run(config: DevServerConfig, *, out: TextIO | None = None) -> int:
    """Serve until SIGINT/SIGTERM; return the exit status."""
    from django_qstash.devserver.server import DevServer

    stream = out if out is not None else sys.stdout
    logging.basicConfig(
        level=logging.WARNING if config.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    if config.db != ":memory:":
        Path(config.db).parent.mkdir(parents=True, exist_ok=True)
    try:
        server = DevServer(config)
    except (OSError, sqlite3.Error) as exc:
        print(
            f"Cannot start the QStash dev server on {config.host}:{config.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        print(banner(server), file=stream, flush=True)
        while not stop.wait(3600):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
        print("QStash dev server stopped.", file=stream, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(config_from_args(args))


if __name__ == "__main__":
    sys.exit(main())
