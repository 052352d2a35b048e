"""The django-qstash tour: the whole loop on this machine, in one command (``make demo``).

    python sample_project/demo.py           the tour: start the QStash dev server and the sample
                                            project, enqueue the example tasks, show every
                                            delivery and its outcome live, stop both, exit 0
    python sample_project/demo.py --plain   the same, one line per state change and a summary
                                            table (chosen by itself when NO_COLOR or CI is set,
                                            or when stdout is not a terminal)
    python sample_project/demo.py --serve   ``make run``: start both servers on the sample
                                            project's own database and leave them running

The tour uses a throw-away SQLite database and free loopback ports, so it never touches
``db.sqlite3`` or anything already listening; ``--workdir DIR`` keeps its files (databases and
server logs) in DIR instead of a temporary directory.

The parts live in ``tour/``: ``servers`` (the two child processes), ``steps`` (what the tour
does and how it follows each message), ``workflow`` (the sample workflow's run, followed through
the dev server's run log), ``render`` (the live table and the plain summary) and ``serve``
(``make run``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from tour.render import live_tour, rich_print, summary_lines, wants_plain
from tour.serve import serve_main
from tour.servers import CRON_TICK, RETRY_SCALE, Stack, reserved_port, setup_django, stopped_on_exit
from tour.steps import Tour, build_actions, wait_for


def run_tour(stack: Stack, *, plain: bool) -> int:
    setup_django(stack)
    actions = build_actions(uuid.uuid4().hex[:8])
    if plain:
        tour = Tour(stack, lambda text: print(text, flush=True))
        tour.run(actions)
        wait_for(tour, stack)
        dead = tour.dead_letters()
        print("\n".join(summary_lines(tour, dead)), flush=True)
    else:
        tour = live_tour(stack, actions)
    waiting = tour.pending()
    if waiting:
        print(f"the tour timed out waiting for: {', '.join(waiting)}\n{stack.logs()}")
        return 1
    return 0


def tour_main(args: argparse.Namespace) -> int:
    keep = args.workdir is not None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="django-qstash-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        workdir=workdir,
        database_url=f"sqlite:///{workdir / 'db.sqlite3'}",
        qstash_port=reserved_port(),
        django_port=reserved_port(),
        devserver_flags=["--retry-scale", str(RETRY_SCALE), "--cron-tick", str(CRON_TICK)],
        qstash_db=workdir / "qstash-dev.db",
    )
    say = print if args.plain else rich_print
    code = 1
    try:
        with stopped_on_exit(stack):
            say("migrating a fresh SQLite database ...")
            stack.manage("migrate", "--no-input", "-v", "0")
            stack.start_devserver()
            say(f"QStash dev server at {stack.qstash_url}")
            stack.start_django(debug=False)
            say(f"sample project at {stack.django_url} (webhook at /qstash/webhook/)")
            code = run_tour(stack, plain=args.plain)
    except KeyboardInterrupt:
        print("\ninterrupted; both servers stopped")
        code = 130
    except Exception as exc:
        print(f"the demo failed: {exc}\n{stack.logs()}", file=sys.stderr)
        code = 1
    finally:
        if keep:
            say(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    say("both servers stopped" + ("" if code else "; the tour is over"))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", action="store_true", help="no colour, no live redraw")
    parser.add_argument("--serve", action="store_true", help="start both servers and keep them")
    parser.add_argument("--workdir", help="keep the tour's databases and logs in this directory")
    args = parser.parse_args(argv)
    if args.serve:
        return serve_main(args)
    args.plain = wants_plain(args.plain)
    return tour_main(args)


if __name__ == "__main__":
    sys.exit(main())
