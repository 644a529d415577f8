"""``serve`` uses the direct webhook path only with the uvicorn releases it was tested with.

The direct path subclasses uvicorn's private httptools protocol. If an upgrade moved what it builds
on, ingest would break silently; instead ``serve`` falls back to uvicorn's own protocol (webhooks
through ASGI, tested in ``test_protocol.py``), and the first test here fails, so an upgrade of
uvicorn is re-tested and ``TESTED_UVICORN`` widened on purpose.
"""

from __future__ import annotations

import logging

import pytest
import uvicorn

from complaintdesk.web import server
from complaintdesk.web.server import FALLBACK_PROTOCOL, HTTP_PROTOCOL, TESTED_UVICORN, http_protocol


def test_the_installed_uvicorn_is_one_the_direct_path_was_tested_with() -> None:
    major, minor = (int(part) for part in uvicorn.__version__.split(".")[:2])
    low, high = TESTED_UVICORN
    assert low <= (major, minor) <= high, (
        f"uvicorn {uvicorn.__version__} is outside {TESTED_UVICORN}: run tests/web/test_protocol.py "
        "and bench/ingest.py with it, then widen TESTED_UVICORN in complaintdesk/web/server.py"
    )
    assert http_protocol() == HTTP_PROTOCOL


@pytest.mark.parametrize("version", ["0.99.0", "1.0.0", "0.36.2", "nightly", ""])
def test_an_untested_uvicorn_serves_webhooks_through_asgi_and_says_so(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=server.__name__):
        assert http_protocol(version) == FALLBACK_PROTOCOL
    assert "served through ASGI" in caplog.text


def test_a_direct_path_that_no_longer_imports_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing(name: str) -> None:
        raise ImportError(f"cannot import name 'HttpToolsProtocol' (from {name})")

    monkeypatch.setattr(server.importlib, "import_module", missing)
    with caplog.at_level(logging.WARNING, logger=server.__name__):
        assert http_protocol() == FALLBACK_PROTOCOL
    assert "HttpToolsProtocol" in caplog.text
