"""Logging setup with structlog: JSON lines (or readable text) with context, tracebacks and redaction.

Every line, whether it comes from a structlog logger or from a library's stdlib ``logging`` call,
goes through the same processors:

* context bound with :func:`bind` / :func:`bound` (request id, account, channel, complaint id, job
  id) is merged in from contextvars, and ``extra={...}`` fields of stdlib calls are kept;
* an exception's traceback is kept: a structured ``exception`` field in JSON (frames, type, value),
  the usual text in the readable format;
* secrets and personal data are redacted wherever they appear in the event: values under keys such
  as ``password``, ``secret``, ``token``, ``authorization`` or ``private_key`` become ``[redacted]``,
  and mainland mobile numbers in any string (messages and tracebacks included) are masked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from complaintdesk.security import redact

__all__ = ["REDACTED", "bind", "bound", "configure", "redact_event", "unbind"]

REDACTED = "[redacted]"
#: A key containing any of these (case-insensitive, ``-`` and ``_`` ignored) has its value redacted.
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "privatekey",
    "apikey",
    "apiv3key",
    "datakey",
    "signkey",
    "cookie",
    "signature",
    "credential",
)
#: Fields whose values are structlog's own and never secret (a job's ``task`` may say "token").
_KEEP = frozenset({"event", "message", "level", "logger", "ts", "timestamp"})


def _secret_key(key: str) -> bool:
    squashed = key.lower().replace("-", "").replace("_", "")
    return any(part in squashed for part in SECRET_KEY_PARTS)


def _scrub(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with secret-named entries redacted and phone numbers masked in strings."""
    if isinstance(value, str):
        return redact(value)
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _secret_key(k) else _scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, depth + 1) for v in value]
    return value


def redact_event(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact secrets (by key) and mask phone numbers (in every string)."""
    event_dict.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # the formatter's own fields (the stdlib record)
            continue
        if key not in _KEEP and _secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(value)
    return event_dict


_HEAD = ("ts", "level", "logger", "message")


def _head_first(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Put time, level, logger and message first, as the lines read before structlog."""
    head = {key: event_dict.pop(key) for key in _HEAD if key in event_dict}
    return {**head, **event_dict}


def _json_dumps(obj: Any, **kw: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _shared_processors() -> list[Processor]:
    """What every event gets, from structlog or from stdlib ``logging``, before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]


def _renderers(json_lines: bool) -> list[Processor]:
    if json_lines:
        return [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The structured ``exception`` field; without locals, which may hold secrets or personal data.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            redact_event,  # after the traceback is rendered: a phone number in it is masked too
            structlog.processors.EventRenamer("message"),
            _head_first,
            structlog.processors.JSONRenderer(serializer=_json_dumps),
        ]
    return [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        redact_event,
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
    ]


def configure(level: str = "INFO", *, json_lines: bool = False, stream: TextIO | None = None) -> None:
    """Configure stdlib logging and structlog once for the process (``stream`` defaults to stderr)."""
    shared = _shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=_renderers(json_lines),
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # configure() may run again (tests); loggers follow it
    )


def bind(**context: Any) -> None:
    """Add context to every line logged from here on in this task or thread (contextvars)."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in context.items() if v is not None})


def unbind(*keys: str) -> None:
    """Remove context added by :func:`bind`."""
    structlog.contextvars.unbind_contextvars(*keys)


@contextlib.contextmanager
def bound(**context: Any) -> Iterator[None]:
    """Context for the lines logged inside the block; what was bound before is restored after."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in context.items() if v is not None}):
        yield
