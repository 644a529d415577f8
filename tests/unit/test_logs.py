"""Structured logs: JSON lines from structlog and stdlib alike, context, tracebacks, redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from complaintdesk import logs

PHONE = "13800138000"


@pytest.fixture(autouse=True)
def pytest_logging() -> Iterator[None]:
    """Put the root logger back as pytest had it (its capture handlers, its level) after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    logs.configure("INFO", json_lines=True, stream=out)
    return out


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_library_line_and_a_structlog_line_are_the_same_json(stream: io.StringIO) -> None:
    logging.getLogger("some.library").warning("disk %s is %d%% full", "/var", 91)
    structlog.get_logger("complaintdesk.test").info("synced", account="shop", pages=3)
    library, ours = lines(stream)
    assert list(library)[:4] == ["ts", "level", "logger", "message"]
    assert (library["level"], library["logger"], library["message"]) == (
        "warning",
        "some.library",
        "disk /var is 91% full",
    )
    assert library["ts"].endswith("Z")
    assert (ours["message"], ours["account"], ours["pages"], ours["logger"]) == (
        "synced",
        "shop",
        3,
        "complaintdesk.test",
    )


def test_bound_context_is_on_every_line_inside_the_block_only(stream: io.StringIO) -> None:
    log = logging.getLogger("complaintdesk.test")
    with logs.bound(request_id="r-1", account="shop", channel="wechatpay", complaint_id=5):
        log.info("inside")
        with logs.bound(job_id=9):
            structlog.get_logger().info("nested")
    log.info("outside")
    inside, nested, outside = lines(stream)
    assert {k: inside[k] for k in ("request_id", "account", "channel", "complaint_id")} == {
        "request_id": "r-1",
        "account": "shop",
        "channel": "wechatpay",
        "complaint_id": 5,
    }
    assert nested["job_id"] == 9 and nested["request_id"] == "r-1"
    assert "request_id" not in outside and "job_id" not in outside


def test_secrets_are_redacted_wherever_they_appear(stream: io.StringIO) -> None:
    structlog.get_logger("complaintdesk.test").warning(
        "calling upstream",
        token="t0ps3cret",
        headers={"Authorization": "WECHATPAY2-SHA256-RSA2048 mchid=1,signature=abc", "Accept": "json"},
        config=[{"private_key": "-----BEGIN PRIVATE KEY-----", "name": "shop"}],
        api_v3_key="k" * 32,
        payer={"phone": PHONE},
    )
    logging.getLogger("some.library").error(
        "login for %s", "alice", extra={"password": "hunter2", "session_cookie": "abc", "user": "alice"}
    )
    text = stream.getvalue()
    for secret in ("t0ps3cret", "mchid=1", "BEGIN PRIVATE KEY", "k" * 32, "hunter2", "abc", PHONE):
        assert secret not in text
    ours, library = lines(stream)
    assert ours["token"] == logs.REDACTED
    assert ours["headers"] == {"Authorization": logs.REDACTED, "Accept": "json"}
    assert ours["config"] == [{"private_key": logs.REDACTED, "name": "shop"}]
    assert ours["payer"] == {"phone": "138****8000"}
    assert (library["password"], library["session_cookie"], library["user"]) == (
        logs.REDACTED,
        logs.REDACTED,
        "alice",
    )


def test_a_traceback_is_a_structured_field_with_phone_numbers_masked(stream: io.StringIO) -> None:
    try:
        raise ValueError(f"payer {PHONE} not found")
    except ValueError:
        logging.getLogger("complaintdesk.test").exception("lookup for %s failed", PHONE)
    [line] = lines(stream)
    assert line["message"] == "lookup for 138****8000 failed"
    [exception] = line["exception"]
    assert (exception["exc_type"], exception["exc_value"]) == ("ValueError", "payer 138****8000 not found")
    assert (
        exception["frames"][-1]["name"] == "test_a_traceback_is_a_structured_field_with_phone_numbers_masked"
    )
    assert PHONE not in stream.getvalue()


def test_the_readable_format_keeps_tracebacks_and_masks_too() -> None:
    out = io.StringIO()
    logs.configure("INFO", json_lines=False, stream=out)
    try:
        raise KeyError(PHONE)
    except KeyError:
        logging.getLogger("complaintdesk.test").exception("failed", extra={"secret": "s3cr3t"})
    text = out.getvalue()
    assert "Traceback (most recent call last)" in text and "KeyError" in text
    assert "138****8000" in text
    assert PHONE not in text and "s3cr3t" not in text
    assert not text.lstrip().startswith("{")
