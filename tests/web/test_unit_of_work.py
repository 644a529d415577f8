"""The web unit of work: every route's session is committed before its answer, a failed commit is a 500.

The guard walks the application's routes, so a new route given a request-scoped session (committed after
its answer is sent) fails here. The other tests make the commit itself fail in the database and check
that the caller is told (500, JSON or the console's page) and that nothing of the request was kept.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from tests.e2e.harness import Harness
from tests.e2e.test_api import token
from tests.web.conftest import Console, add_user

from complaintdesk.app import create_app
from complaintdesk.core.audit.models import AuditEvent
from complaintdesk.core.outbox.models import OutboundAction
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.core.tokens.models import ApiToken
from complaintdesk.core.users.models import User
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings
from complaintdesk.web.uow import DbSession, transaction

#: Writing routes that open no request session: they commit their own short transactions (``ctx.db``)
#: before answering, around an upstream call that must not hold a transaction open.
OWN_TRANSACTIONS = {("POST", "/complaints/{complaint_id}/refresh")}


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _session_params(call: Any) -> set[str]:
    """Names of the parameters of ``call`` typed as a SQLAlchemy session (through Annotated too)."""
    try:
        hints = get_type_hints(call, include_extras=True)
    except Exception:  # a callable object or a builtin: no annotations to read
        return set()
    names = set()
    for name, hint in hints.items():
        base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
        if inspect.isclass(base) and issubclass(base, Session):
            names.add(name)
    return names


def _is_uow(dependant: Dependant) -> bool:
    return dependant.call is transaction and dependant.scope == "function"


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every path operation as served: included routers resolved, their own dependencies added."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            yield route


def unit_of_work_problems(app: FastAPI) -> list[str]:
    """Why routes of ``app`` could answer before their writes are committed (empty: none can)."""
    problems = []
    for route in api_routes(app):
        where = f"{','.join(sorted(route.methods))} {route.path}"
        uses_uow = False
        for dependant in _walk(route.dependant):
            call = dependant.call
            if (
                dependant is not route.dependant
                and (inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call))
                and not _is_uow(dependant)
            ):
                name = getattr(call, "__name__", repr(call))
                scope = dependant.scope or "request"
                problems.append(f"{where}: dependency {name} yields with scope {scope!r}")
            uses_uow = uses_uow or _is_uow(dependant)
            subs = {sub.name: sub for sub in dependant.dependencies}
            for name in _session_params(call):
                sub = subs.get(name)
                if sub is None or not _is_uow(sub):
                    problems.append(f"{where}: parameter {name!r} is a session outside the unit of work")
        writes = route.methods - {"GET", "HEAD", "OPTIONS"}
        if writes and not uses_uow and not {(m, route.path) for m in writes} <= OWN_TRANSACTIONS:
            problems.append(f"{where}: a writing route without the unit of work")
    return problems


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}", data_dir=tmp_path,
                        data_key=secrets.token_urlsafe(40))  # fmt: skip
    return create_app(settings, run_jobs=False)


def test_every_route_commits_through_the_function_scoped_unit_of_work(app: FastAPI) -> None:
    assert unit_of_work_problems(app) == []
    with_uow = {
        (method, route.path)
        for route in api_routes(app)
        if any(_is_uow(d) for d in _walk(route.dependant))
        for method in route.methods
    }
    assert len(with_uow) > 30
    writing = {(m, r.path) for r in api_routes(app) for m in r.methods if m != "GET"}
    assert len(writing) >= 20 and writing - OWN_TRANSACTIONS <= with_uow
    for expected in (
        ("POST", "/api/v1/complaints/{complaint_id}/actions"),
        ("POST", "/api/v1/media"),
        ("POST", "/complaints/{complaint_id}/notes"),
        ("POST", "/admin/users"),
        ("GET", "/complaints/{complaint_id}"),  # a page view marks the complaint read
        ("GET", "/api/v1/complaints"),  # records the token's last use
    ):
        assert expected in with_uow, expected


def request_scoped() -> Iterator[Session]:
    """The old way: a session committed after ``yield``, which FastAPI runs after the answer is sent."""
    with Session() as session:
        yield session
        session.commit()


def also_request_scoped() -> Iterator[int]:
    """Any other request-scoped dependency with ``yield``."""
    yield 1


def test_the_guard_names_a_route_whose_session_commits_after_the_answer(app: FastAPI) -> None:
    @app.post("/late")
    def late(db: Annotated[Session, Depends(request_scoped)]) -> None: ...

    @app.post("/default-scope")
    def default_scope(db: Annotated[Session, Depends(transaction)]) -> None: ...

    @app.put("/no-session")
    def no_session(value: Annotated[int, Depends(also_request_scoped)]) -> None: ...

    @app.post("/fine")
    def fine(db: DbSession) -> None: ...

    problems = unit_of_work_problems(app)
    assert "POST /late: dependency request_scoped yields with scope 'request'" in problems
    assert "POST /late: parameter 'db' is a session outside the unit of work" in problems
    assert "POST /default-scope: dependency transaction yields with scope 'request'" in problems
    assert "PUT /no-session: dependency also_request_scoped yields with scope 'request'" in problems
    assert "PUT /no-session: a writing route without the unit of work" in problems
    assert not any(p.startswith("POST /fine") for p in problems)


@contextmanager
def failing_commits(ctx: AppContext) -> Iterator[list[str]]:
    """Make the database reject every commit of the app's sessions (as a full disk or a conflict would).

    At commit time the session runs a statement the database refuses, so the error comes from the
    database driver in the middle of ``Session.commit``, like a real commit failure.
    """
    refused: list[str] = []

    def refuse(session: Session) -> None:
        refused.append("commit")
        session.execute(text("SELECT no_such_column FROM complaint"))

    event.listen(ctx.sessions, "before_commit", refuse)
    try:
        yield refused
    finally:
        event.remove(ctx.sessions, "before_commit", refuse)


def _count(wx: Harness, query: Any) -> int:
    with wx.ctx.session() as s:
        return int(s.scalar(query) or 0)


async def _complaint(wx: Harness) -> int:
    external = wx.state.create_complaint(wx.shop.mchid, problem_type="OTHERS", detail="未发货")
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


@pytest.mark.anyio
async def test_an_api_action_whose_commit_fails_answers_500_and_keeps_nothing(wx: Harness) -> None:
    complaint_id = await _complaint(wx)
    headers = token(wx, "erp", all_accounts=True)
    url = f"/api/v1/complaints/{complaint_id}/actions"
    with failing_commits(wx.ctx) as refused:
        answer = await wx.desk.post(url, headers=headers, json={"kind": "reply", "params": {"content": "好"}})
    assert refused, "the request committed"
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "WriteFailed",
        "message": "the change could not be saved (nothing was changed); try again",
    }
    assert _count(wx, select(func.count()).select_from(OutboundAction)) == 0
    assert _count(wx, select(func.count()).where(TimelineEntry.source == "action")) == 0
    assert _count(wx, select(func.count()).where(ApiToken.last_used_at.is_not(None))) == 0
    again = await wx.desk.post(url, headers=headers, json={"kind": "reply", "params": {"content": "好"}})
    assert again.status_code == 202  # the same request succeeds once the database accepts commits
    assert _count(wx, select(func.count()).select_from(OutboundAction)) == 1


@pytest.mark.anyio
async def test_a_refused_api_action_rolls_back_what_the_request_had_flushed(wx: Harness) -> None:
    complaint_id = await _complaint(wx)
    headers = token(wx, "erp", all_accounts=True)
    url = f"/api/v1/complaints/{complaint_id}/actions"
    answer = await wx.desk.post(url, headers=headers, json={"kind": "reply", "params": {"content": ""}})
    assert answer.status_code == 422 and answer.json()["error"] == "ActionRefused"
    # the token's last use was flushed by the authentication, then rolled back with the refusal
    assert _count(wx, select(func.count()).where(ApiToken.last_used_at.is_not(None))) == 0
    assert _count(wx, select(func.count()).select_from(OutboundAction)) == 0


@pytest.mark.anyio
async def test_a_console_note_whose_commit_fails_shows_the_error_page_and_keeps_nothing(
    wx: Harness, console: Console
) -> None:
    complaint_id = await _complaint(wx)
    add_user(wx, "agent1", "agent")
    await console.login("agent1")
    await console.get(f"/complaints/{complaint_id}")
    with failing_commits(wx.ctx) as refused:
        answer = await console.post(f"/complaints/{complaint_id}/notes", {"note": "客户已来电"})
    assert refused, "the request committed"
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("text/html")
    assert "未保存" in answer.text and "未能保存，什么也没有改变。请重试。" in answer.text
    assert "cd_session" not in answer.headers.get("set-cookie", "")  # no "note added" flash
    assert _count(wx, select(func.count()).where(TimelineEntry.source == "note")) == 0
    page = await console.get(f"/complaints/{complaint_id}")
    assert page.status_code == 200 and "已添加备注。" not in page.text and "客户已来电" not in page.text


@pytest.mark.anyio
async def test_a_sign_in_whose_commit_fails_signs_nobody_in(wx: Harness, console: Console) -> None:
    add_user(wx, "agent1", "agent")
    with failing_commits(wx.ctx) as refused:
        answer = await console.login("agent1")
    assert refused and answer.status_code == 500 and "未保存" in answer.text
    assert _count(wx, select(func.count()).where(User.last_login_at.is_not(None))) == 0
    assert _count(wx, select(func.count()).where(AuditEvent.action == "login")) == 0
    home = await console.http.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/login")
