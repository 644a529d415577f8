"""Issue #12: no integer a caller sends can overflow a database bind (4xx, never 500), on both databases.

A static walk checks that every integer path/query parameter of every route has an upper bound; a
dynamic walk sends values past every backend's integers to each such parameter, and to the form
fields and query values parsed by hand.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from annotated_types import Le
from fastapi.dependencies.models import Dependant
from tests.e2e.harness import Harness
from tests.e2e.test_api import png, token
from tests.web.conftest import Console, add_user, processed_complaint
from tests.web.test_unit_of_work import api_routes

pytestmark = pytest.mark.anyio

MAX_ID = 2**31 - 1  # ids are INTEGER columns
#: Past PostgreSQL's int4 and int8, SQLite's 64-bit integers, and far past any page.
HUGE = (2**31, 2**63, 10**17, 99999999999999999999, 10**40)


def _params(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.path_params
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _params(sub)


def _integer_params(route: Any) -> list[tuple[str, str, Any]]:
    """(name, "path"/"query", field) of each integer parameter of a route."""
    found = []
    paths = {p.name for p in route.dependant.path_params}
    for field in _params(route.dependant):
        annotation = field.field_info.annotation
        if annotation is int or annotation == int | None:
            found.append((field.name, "path" if field.name in paths else "query", field))
    return found


def _routes(wx: Harness) -> list[Any]:
    return list(api_routes(wx.app))


async def test_every_integer_parameter_of_every_route_is_bounded(wx: Harness) -> None:
    checked = 0
    for route in _routes(wx):
        for name, _where, field in _integer_params(route):
            bounds = [m.le for m in field.field_info.metadata if isinstance(m, Le)]
            assert bounds and bounds[0] <= MAX_ID, f"{route.path}: {name} has no upper bound"
            checked += 1
    assert checked >= 15  # the walk really found the ids, offsets and pages


async def test_huge_integers_in_paths_and_queries_are_4xx(wx: Harness, console: Console) -> None:
    complaint_id = await processed_complaint(wx)
    api = token(wx, "ops", all_accounts=True)
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get(f"/complaints/{complaint_id}")
    fetch = {"X-CSRF-Token": console.csrf, "Accept": "application/json"}
    tried = 0
    for route in _routes(wx):
        params = _integer_params(route)
        for name, where, _field in params:
            for value in HUGE:
                path = route.path
                for other in re.findall(r"\{(\w+)\}", route.path):
                    path = path.replace(
                        "{" + other + "}",
                        str(value) if other == name else (str(complaint_id) if "id" in other else "reply"),
                    )
                query = {name: str(value)} if where == "query" else {}
                for method in route.methods:
                    if path.startswith("/api/"):
                        answer = await wx.desk.request(method, path, params=query, headers=api, json={})
                        assert answer.status_code == 422, (method, path, query, answer.text)
                    else:
                        answer = await console.http.request(method, path, params=query, headers=fetch)
                        expected = 404 if where == "path" else 400
                        assert answer.status_code == expected, (method, path, query, answer.text)
                        page = (
                            await console.http.request(
                                method, path, params=query, headers={"X-CSRF-Token": console.csrf}
                            )
                            if method == "GET"
                            else None
                        )
                        assert page is None or page.status_code == expected
                    tried += 1
    assert tried >= 15 * len(HUGE)


async def test_huge_integers_in_forms_and_hand_parsed_queries_are_harmless(
    wx: Harness, console: Console
) -> None:
    complaint_id = await processed_complaint(wx)
    add_user(wx, "boss", "admin")
    await console.login("boss")
    await console.get(f"/complaints/{complaint_id}")
    for value in (str(v) for v in HUGE):
        cursor = base64.urlsafe_b64encode(json.dumps([0, None, int(value)]).encode()).decode().rstrip("=")
        for query in (f"assignee={value}", f"account={value}", f"tag={value}", f"cursor={cursor}"):
            assert (await console.get(f"/?{query}")).status_code == 200, query
        assert (await console.get(f"/admin/audit?page={value}")).status_code == 400
        bulk = await console.post("/inbox/bulk", {"ids": [value, str(complaint_id)], "op": "read"})
        assert bulk.status_code == 303
        assign = await console.post(f"/complaints/{complaint_id}/assign", {"assignee_id": value})
        assert assign.status_code == 303
        bulk_assign = await console.post(
            "/inbox/bulk", {"ids": [str(complaint_id)], "op": "assign", "assignee_id": value}
        )
        assert bulk_assign.status_code == 303
        preview = await console.post(f"/complaints/{complaint_id}/template-preview", {"template_id": value})
        assert preview.status_code == 200
        upload = await console.http.post(
            "/upload",
            data={"complaint_id": value},
            files={"file": ("a.png", png(), "image/png")},
            headers={"X-CSRF-Token": console.csrf},
        )
        assert upload.status_code == 201
        users = await console.post(
            "/admin/users",
            {
                "username": "x" + value[-6:],
                "password": "long enough pw",
                "role": "agent",
                "account_ids": value,
            },
        )
        assert users.status_code in (303, 422)
    offset = await wx.desk.get(
        "/api/v1/complaints", params={"offset": str(2**63)}, headers=token(wx, "reader", all_accounts=True)
    )
    assert offset.status_code == 422
