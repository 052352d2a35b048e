"""Worker-style logs on the ``django_qstash`` logger, one line per event, checked with caplog.

Deliveries are signed and posted through Django's test client (the webhook's real code path);
the results store is on, as in the sample project.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.test import Client, override_settings

from django_qstash import hooks
from tests.results.conftest import Deliverer, body_for, signed_headers
from tests.support.signing import make_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deliver() -> Deliverer:
    return Deliverer(Client())


def final_body() -> bytes:
    """always_fails("k") as .delay() publishes it: max_retries=0, so its one attempt is final."""
    return hooks.build_message("example.tasks.always_fails", ["k"], {}, {"max_retries": 0})


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django_qstash" and r.levelno == level]


def test_a_success_logs_start_and_success_with_attempt_duration_and_result(deliver, caplog):
    caplog.set_level(logging.INFO, logger="django_qstash")
    message_id = f"msg_{uuid.uuid4().hex}"
    assert deliver("example.tasks.math_add_task", 2, 40, message_id=message_id).status_code == 200
    started, succeeded = (r.getMessage() for r in lines(caplog, logging.INFO))
    assert started == f"Task example.tasks.math_add_task[{message_id}] started (attempt 1 of 4)"
    assert succeeded.startswith(f"Task example.tasks.math_add_task[{message_id}] succeeded in ")
    assert succeeded.endswith("s (attempt 1 of 4): 42")
    assert lines(caplog, logging.WARNING) == []
    assert lines(caplog, logging.ERROR) == []


def test_a_long_result_is_cut_in_the_success_line(deliver, caplog):
    caplog.set_level(logging.INFO, logger="django_qstash")
    deliver("example.tasks.record", "x" * 5000)
    [succeeded] = [
        r.getMessage() for r in lines(caplog, logging.INFO) if "succeeded" in r.getMessage()
    ]
    assert "..." in succeeded
    assert len(succeeded) < 300


def test_a_failure_qstash_retries_is_one_warning_with_attempt_and_reason(deliver, caplog):
    caplog.set_level(logging.INFO, logger="django_qstash")
    key = uuid.uuid4().hex
    message_id = f"msg_{uuid.uuid4().hex}"
    deliver("example.tasks.fail_until", key, 3, message_id=message_id, retried=1)
    [warning] = lines(caplog, logging.WARNING)
    assert warning.getMessage() == (
        f"Task example.tasks.fail_until[{message_id}] failed (attempt 2 of 4); QStash will "
        f"retry: RuntimeError: attempt 1 of {key} fails on purpose"
    )
    assert warning.exc_info is None
    assert lines(caplog, logging.ERROR) == []


def test_the_final_failure_is_an_error_with_the_traceback(deliver, caplog):
    caplog.set_level(logging.INFO, logger="django_qstash")
    message_id = f"msg_{uuid.uuid4().hex}"
    response = deliver("", body=final_body(), message_id=message_id)
    assert response.status_code == 489
    [error] = lines(caplog, logging.ERROR)
    assert error.getMessage() == (
        f"Task example.tasks.always_fails[{message_id}] failed for good (attempt 1 of 1): "
        "ValueError: k fails for good"
    )
    assert error.exc_info is not None
    assert "Traceback" in caplog.text


def test_a_retry_the_task_asks_for_is_a_warning(deliver, caplog, qstash):
    caplog.set_level(logging.INFO, logger="django_qstash")
    message_id = f"msg_{uuid.uuid4().hex}"
    response = deliver("example.celery_style.fetch_page", "k", 1, message_id=message_id)
    assert response.status_code == 200
    [warning] = lines(caplog, logging.WARNING)
    assert warning.getMessage().startswith(
        f"Task example.celery_style.fetch_page[{message_id}] asked for a retry (attempt 1 of 4)"
        ", next in 1s: "
    )


def test_refused_deliveries_are_one_line_each(deliver, caplog):
    caplog.set_level(logging.INFO, logger="django_qstash")
    unknown = deliver("app.tasks.nope", body=body_for("app.tasks.nope"), message_id="msg_unknown")
    malformed = deliver("", body=b'{"v": 1, "task": 3}', message_id="msg_malformed")
    assert (unknown.status_code, malformed.status_code) == (489, 489)
    messages = [r.getMessage() for r in lines(caplog, logging.WARNING)]
    assert len(messages) == 2
    assert messages[0].startswith("django-qstash refused message msg_unknown (unknown_task): ")
    assert "app.tasks.nope" in messages[0]
    assert messages[1].startswith("django-qstash refused message msg_malformed (malformed_message)")


def test_a_signature_for_another_url_names_both_urls(caplog):
    caplog.set_level(logging.INFO, logger="django_qstash")
    body = body_for("example.tasks.record", "k")
    signed_for = "https://old-domain.example/qstash/webhook/"
    headers = signed_headers(body, message_id="msg_moved", token=make_token(body, signed_for))
    response = Client().post(
        "/qstash/webhook/", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    [warning] = lines(caplog, logging.WARNING)
    text = warning.getMessage()
    assert text.startswith("django-qstash refused message msg_moved (invalid_signature): ")
    assert repr(signed_for) in text
    assert repr(hooks.webhook_url()) in text
    assert repr(signed_for) in response.json()["error"]


def test_489_has_a_reason_phrase_so_django_does_not_log_unknown_status_code(deliver, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = deliver("", body=final_body())
    assert response.status_code == 489
    assert response.reason_phrase == "Non-Retryable Error"
    request_lines = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert request_lines == ["Non-Retryable Error: /qstash/webhook/"]
    assert "Unknown Status Code" not in caplog.text


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_runs_log_no_worker_lines(caplog):
    from example.tasks import math_add_task

    caplog.set_level(logging.INFO, logger="django_qstash")
    assert math_add_task.delay(1, 2).get() == 3
    assert [r for r in lines(caplog, logging.INFO) if "Task " in r.getMessage()] == []
