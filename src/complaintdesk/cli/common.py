"""Helpers shared by CLI commands: settings, context, console output, error exits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import typer
from rich.console import Console

from complaintdesk import logs
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.migrate import upgrade
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings, load_settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """Load settings, exiting with a readable message when they are invalid."""
    try:
        loaded = load_settings()
    except Exception as exc:
        err_console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    logs.configure(loaded.log_level, json_lines=loaded.log_json)
    return loaded


@contextlib.contextmanager
def context(migrate: bool = True) -> Iterator[AppContext]:
    """An AppContext for one command, with the schema brought up to date."""
    with errors_as_exit():
        ctx = AppContext(settings())
        if migrate:
            upgrade(ctx.engine)
        try:
            yield ctx
        finally:
            ctx.engine.dispose()


@contextlib.contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn our errors into a red one-line message and exit code 1."""
    try:
        yield
    except ComplaintDeskError as exc:
        err_console.print(f"[red]{type(exc).__name__}:[/red] {exc.public_message}")
        raise typer.Exit(1) from exc


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function from a synchronous command."""
    with errors_as_exit():
        return asyncio.run(fn())  # type: ignore[arg-type]


def yuan(fen: int | None) -> str:
    """Format fen as yuan."""
    return "" if fen is None else f"¥{fen / 100:,.2f}"
