"""`.delay()` against a raw keep-alive httpx POST of the same body to the same loopback server.

Two estimates, side by side: rounds of 1,000 calls of each candidate, interleaved (the median
of the rounds' means), and the candidates taking turns call by call, in a shuffled order each
turn (the median call and the mean of each one's calls without its slowest 1%). On a shared
machine a busy moment lands on a whole round of one candidate, so the rounds' ratio wanders
(1.03x to 1.19x for the same code within one session); taking turns call by call, every
candidate meets the same moments.

A third row, the official SDK's ``message.publish`` of the same body with a deduplication id
of its own (what every ``.delay()`` sends, so that the SDK's retry of a publish whose answer was
lost is deduplicated by QStash), is the floor of any ``.delay()`` built on the SDK: the SDK's
header building and answer parsing, and the extra header, cost 4-5% of a loopback round trip
on their own. ``.delay()`` adds the arguments check, the envelope, the pipeline and the result
handle on top.

Target: `.delay()` <= 1.10x the raw POST.
"""

from __future__ import annotations

import os

from benchmarks._harness import call_by_call_tables, compare, qstash_stub, table


def main(calls: int = 1000, rounds: int = 11) -> str:
    with qstash_stub() as base_url:
        os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        import django
        from django.conf import settings

        django.setup()
        settings.QSTASH_URL = base_url
        import httpx

        import benchmarks.urls  # noqa: F401  (registers the task)
        from django_qstash import hooks, publisher
        from django_qstash.registry import registry

        task = registry.get("benchmarks.noop")
        body = hooks.build_message("benchmarks.noop", [1])
        raw = httpx.Client()
        url = f"{base_url}/v2/publish/{hooks.webhook_url()}"
        headers = {"Authorization": "Bearer benchmark-token", "Content-Type": "application/json"}

        def raw_post() -> object:
            return raw.post(url, content=body, headers=headers).json()

        client = publisher.get_client()
        destination = hooks.webhook_url()

        def sdk_publish() -> object:
            return client.message.publish(
                url=destination,
                body=body,
                content_type="application/json",
                deduplication_id=f"dq-{os.urandom(16).hex()}",
            )

        def delay() -> object:
            return task.delay(1)

        candidates = {"raw httpx POST": raw_post, "SDK publish": sdk_publish, ".delay()": delay}

        # Each candidate keeps its own single connection: count them over one batch of calls.
        before = int(raw.get(f"{base_url}/connections").text)
        for _ in range(calls):
            delay()
        after = int(raw.get(f"{base_url}/connections").text)
        medians = compare(candidates, calls=calls, rounds=rounds)
        turns = call_by_call_tables(candidates, calls=calls * rounds, baseline="raw httpx POST")
        note = f"  ({calls} .delay() calls opened {after - before} new TCP connection(s))"
        return "\n".join(
            [
                table("Publishing one message (per call, rounds)", medians, "raw httpx POST"),
                turns,
                note,
            ]
        )


if __name__ == "__main__":
    print(main())
