"""The Django adapter through Django's test client and a loopback recorder standing for QStash:
what it refuses before the SDK sees a request, what the SDK then asks QStash, and its errors."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from django_qstash.workflows import Workflow, get_workflow
from tests.support.recorder import Recorder
from tests.support.signing import make_token

DOMAIN = "http://127.0.0.1:8000"
NAME = "tests.scenario"
URL = f"{DOMAIN}/workflows/{NAME}/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def settings_for_tests() -> Any:
    with override_settings(DJANGO_QSTASH_DOMAIN=DOMAIN, DJANGO_QSTASH_FORCE_HTTPS=False):
        yield


def post(body: bytes, token: str | None = None, **headers: str) -> Any:
    if token is not None:
        headers["HTTP_UPSTASH_SIGNATURE"] = token
    return Client().post(
        f"/workflows/{NAME}/", data=body, content_type="application/json", **headers
    )


def test_the_url_is_built_from_settings() -> None:
    assert get_workflow(NAME).url == URL
    with override_settings(DJANGO_QSTASH_DOMAIN="example.com", DJANGO_QSTASH_FORCE_HTTPS=True):
        assert get_workflow(NAME).url == f"https://example.com/workflows/{NAME}/"


def test_only_post_is_accepted() -> None:
    response = Client().get(f"/workflows/{NAME}/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_an_unsigned_request_is_refused_before_the_sdk_sees_it(qstash: Recorder) -> None:
    response = post(b'{"key": "x"}')
    assert response.status_code == 401
    assert response.json()["error"] == "missing Upstash-Signature header"
    assert qstash.requests == []


def test_a_signature_for_another_url_is_refused(qstash: Recorder) -> None:
    body = b'{"key": "x"}'
    response = post(body, make_token(body, f"{DOMAIN}/qstash/webhook/"))
    assert response.status_code == 401
    assert "another URL" in response.json()["error"]
    assert qstash.requests == []


def test_a_tampered_body_is_refused(qstash: Recorder) -> None:
    token = make_token(b'{"key": "x"}', URL)
    response = post(b'{"key": "y"}', token)
    assert response.status_code == 401
    assert qstash.requests == []


def test_a_signed_first_request_starts_a_run(qstash: Recorder) -> None:
    body = b'{"key": "first"}'
    response = post(body, make_token(body, URL))
    assert response.status_code == 200, response.content
    run_id = response.json()["workflowRunId"]
    (batch,) = qstash.requests
    assert batch.path == "/v2/batch"
    (message,) = batch.json()
    assert message["destination"] == URL
    assert message["body"] == '{"key": "first"}'
    headers = message["headers"]
    assert headers["Upstash-Workflow-Init"] == "true"
    assert headers["Upstash-Workflow-RunId"] == run_id
    assert headers["Upstash-Workflow-Url"] == URL
    assert headers["Upstash-Retries"] == "5"  # the workflow's retries=5


def test_a_step_delivery_runs_the_next_step_only(qstash: Recorder) -> None:
    initial = {"messageId": "m0", "body": base64.b64encode(b'{"key": "k"}').decode()}
    step1 = {
        "stepId": 1,
        "stepName": "step1",
        "stepType": "Run",
        "out": json.dumps("step1 done"),
        "concurrent": 1,
    }
    steps = [
        {**initial, "callType": "step"},
        {
            "messageId": "m1",
            "body": base64.b64encode(json.dumps(step1).encode()).decode(),
            "callType": "step",
        },
    ]
    body = json.dumps(steps).encode()
    response = post(
        body,
        make_token(body, URL),
        HTTP_UPSTASH_WORKFLOW_RUNID="wfr_test",
        HTTP_UPSTASH_WORKFLOW_SDK_VERSION="1",
    )
    assert response.status_code == 200, response.content
    (batch,) = qstash.requests
    (message,) = batch.json()
    published = json.loads(message["body"])
    assert (published["stepId"], published["stepName"]) == (2, "step2")
    assert json.loads(published["out"]) == "step2 done"


def test_trigger_publishes_the_first_step_and_returns_the_run_id(qstash: Recorder) -> None:
    run_id = get_workflow(NAME).trigger({"key": "t"}, run_id="wfr_mine", headers={"X-Who": "me"})
    assert run_id == "wfr_mine"
    (request,) = qstash.requests
    assert request.path == f"/v2/publish/{URL}"
    assert request.json() == {"key": "t"}
    assert request.headers["Upstash-Workflow-Init"] == "true"
    assert request.headers["Upstash-Workflow-RunId"] == "wfr_mine"
    assert request.headers["Upstash-Forward-Upstash-Workflow-Sdk-Version"] == "1"
    assert request.headers["Upstash-Forward-X-Who"] == "me"


def test_cancel_asks_qstash_to_cancel_the_run(qstash: Recorder) -> None:
    get_workflow(NAME).cancel("wfr_gone")
    (request,) = qstash.requests
    assert (request.method, request.path) == ("DELETE", "/v2/workflows/runs/wfr_gone?cancel=true")


def test_bad_trigger_input_is_refused_before_anything_is_published(qstash: Recorder) -> None:
    definition = get_workflow(NAME)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        definition.trigger({"key": object()})
    with pytest.raises(ValueError, match="run_id"):
        definition.trigger({"key": "k"}, run_id="has spaces")
    with pytest.raises(ValueError, match="delay"):
        definition.trigger({"key": "k"}, delay=-1)
    assert qstash.requests == []


def test_an_unrouted_workflow_says_how_to_route_it() -> None:
    definition = Workflow(lambda context: None, name="not.routed")
    with pytest.raises(ImproperlyConfigured, match=r'include\("django_qstash.workflows.urls"\)'):
        definition.url


def test_a_failure_function_must_match_the_workflow_kind() -> None:
    async def async_workflow(context: Any) -> None:
        pass

    with pytest.raises(TypeError, match="async function"):
        Workflow(async_workflow, name="mismatch", failure_function=lambda *args: None)
    with pytest.raises(ValueError, match="not both"):
        Workflow(
            lambda context: None,
            name="both",
            failure_function=lambda *args: None,
            failure_url="http://x/",
        )


def test_unknown_workflow_names_the_known_ones() -> None:
    with pytest.raises(LookupError, match="tests.scenario"):
        get_workflow("nope")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def test_importing_the_package_loads_neither_the_sdk_nor_settings() -> None:
    result = run_python(
        """
        import sys
        import django_qstash.workflows
        from django_qstash.workflows import workflow
        heavy = [m for m in ("upstash_workflow", "qstash", "httpx") if m in sys.modules]
        import django.conf
        print("configured" if django.conf.settings.configured else "unconfigured", heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unconfigured []"


def test_a_missing_sdk_is_an_error_naming_the_extra() -> None:
    # The SDK made unimportable, as in an install without the extra.
    result = run_python(
        """
        import sys
        sys.modules["upstash_workflow"] = None
        from django_qstash.workflows import WorkflowContext
        """
    )
    assert result.returncode != 0
    assert 'pip install "django-qstash-core[workflows]"' in result.stderr
