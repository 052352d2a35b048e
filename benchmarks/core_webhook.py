"""Webhook delivery of a trivial task against a bare JSON view, in-process WSGI, no sockets.

Two estimates, as in ``core_delay``: rounds of calls of each candidate (the median of the
rounds' means), and the candidates taking turns call by call in a shuffled order (the median
call, and the mean without each one's slowest 1%), which every candidate meets the machine's
busy moments in alike. The "minimal correct dispatcher" is the floor of any webhook that checks
the signature, parses the body, looks the task up and calls it.

Target: the webhook <= 1.6x the bare view.
"""

from __future__ import annotations

import io
import os
import sys

from benchmarks._harness import call_by_call_tables, compare, table, wsgi_handler


def main(calls: int = 2000, rounds: int = 9) -> str:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()
    from benchmarks import urls
    from django_qstash import hooks
    from tests.support.signing import make_token

    body = hooks.build_message("benchmarks.noop", [1])
    token = make_token(body, hooks.webhook_url())

    def environ(path: str, signed: bool) -> dict[str, object]:
        env: dict[str, object] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "HTTP_UPSTASH_MESSAGE_ID": "msg_bench",
            "HTTP_UPSTASH_RETRIED": "0",
        }
        if signed:
            env["HTTP_UPSTASH_SIGNATURE"] = token
        return env

    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    def request(route: urls.URLPattern | urls.URLResolver, signed: bool):
        # Each view alone in its URLconf, so none pays for routes tried before it.
        handler = wsgi_handler(urls.Alone(route))
        base = environ("/" + str(route.pattern), signed)

        def call() -> object:
            env = dict(base)
            env["wsgi.input"] = io.BytesIO(body)
            return b"".join(handler(env, start_response))

        return call

    bare, webhook = request(urls.BARE, False), request(urls.WEBHOOK, True)
    minimal = request(urls.MINIMAL, True)
    assert b'"success"' in bare(), "the bare view must answer 200 success"
    assert b'"success"' in webhook(), "the webhook must answer 200 success"
    candidates = {
        "bare JSON view": bare,
        "minimal correct dispatcher": minimal,
        "django-qstash webhook": webhook,
    }
    medians = compare(candidates, calls=calls, rounds=rounds)
    turns = call_by_call_tables(candidates, calls=calls * rounds, baseline="bare JSON view")
    assert all(status.startswith("200") for status in statuses)
    rounds_table = table(
        "Webhook delivery of a trivial task (per request, rounds)", medians, "bare JSON view"
    )
    return rounds_table + "\n" + turns


if __name__ == "__main__":
    print(main())
