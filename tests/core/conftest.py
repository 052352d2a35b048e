from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.support.recorder import Recorder


@pytest.fixture
def qstash(recorder: Recorder) -> Iterator[Recorder]:
    """Point the publisher at the loopback recorder, which answers like QStash's publish."""
    with override_settings(QSTASH_URL=recorder.url):
        yield recorder
