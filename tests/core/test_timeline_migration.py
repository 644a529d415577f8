"""Migration 0006t: Mini Program history rows stored under the old unstable keys are deduplicated."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from complaintdesk.channels.base import ComplaintSnapshot, UnifiedStatus
from complaintdesk.channels.miniprogram.mapping import to_history
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.db import UTCDateTime, make_engine, make_session_factory, unit_of_work
from complaintdesk.migrate import alembic_config, upgrade
from complaintdesk.security import DataCipher

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ADMIN = os.environ.get(
    "COMPLAINTDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (this test moves the schema down and up again)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mig.db'}"
        return
    name = f"complaintdesk_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable: {exc.__class__.__name__}")
    yield ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _complaint(sessions: Any, channel: str, external_id: str) -> int:
    with unit_of_work(sessions) as s:
        account = account_service.get_by_name(session=s, name=channel) or account_service.create(
            session=s, name=channel, channel=channel, mchid=f"m-{channel}"
        )
        snapshot = ComplaintSnapshot(
            channel=channel, external_id=external_id, merchant_id=f"m-{channel}", raw_status="201",
            status=UnifiedStatus.OPEN, complained_at=T0, raw={"id": external_id},
        )  # fmt: skip
        result = complaint_service.apply_snapshot(
            session=s, account=account, snapshot=snapshot, cipher=DataCipher(b"z" * 40), now=T0,
            discovered_by="sync",
        )  # fmt: skip
        return result.complaint_id


def _row(
    complaint_id: int, key: str, text: str, urls: list[str], kind: str = "1", **over: Any
) -> dict[str, Any]:
    return {
        "complaint_id": complaint_id, "dedupe_key": key, "source": "history", "kind": kind, "actor": "user",
        "actor_label": "", "occurred_at": T0, "text": text, "media_urls": urls, "known": True,
        "raw": {"content": text, "mediaIdList": urls}, "created_at": T0, **over,
    }  # fmt: skip


def test_old_mini_program_keys_are_deduplicated_and_empty_entries_removed(fresh_url: str) -> None:
    engine = make_engine(fresh_url, pool_size=0)
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        mp_id = _complaint(sessions, "miniprogram", "7000000000000000001")
        wx_id = _complaint(sessions, "wechatpay", "200201820261101080076610000")
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
        t1, t2 = int(T0.timestamp()), int((T0 + timedelta(minutes=3)).timestamp())
        old = [  # three fetches of one node, then two fetches of two identical nodes (old "-2" suffix)
            _row(mp_id, f"h:1-{t1}-aaaaaaaaaaa1", "没收到货", ["https://cdn/x?sig=1"]),
            _row(mp_id, f"h:1-{t1}-aaaaaaaaaaa2", "没收到货", ["https://cdn/x?sig=2"]),
            _row(mp_id, f"h:1-{t1}-aaaaaaaaaaa3", "没收到货", ["https://cdn/x?sig=3"]),
            _row(mp_id, f"h:2-{t2}-bbbbbbbbbbb1", "在吗", [], kind="2"),
            _row(mp_id, f"h:2-{t2}-bbbbbbbbbbb1-2", "在吗", [], kind="2"),
            _row(mp_id, f"h:2-{t2}-bbbbbbbbbbb2", "在吗", [], kind="2"),
            _row(mp_id, f"h:2-{t2}-bbbbbbbbbbb2-2", "在吗", [], kind="2"),
            _row(mp_id, "a:action-1", "我们的回复", [], source="action", kind="reply"),
            _row(wx_id, "h:300285320210322170000071077", "用户留言", [], kind="USER_RESPONSE"),
            _row(wx_id, "h:300285320210322170000071078", "", [], kind=""),
        ]
        with engine.begin() as conn:
            types = {
                "media_urls": sa.JSON,
                "raw": sa.JSON,
                "occurred_at": UTCDateTime,
                "created_at": UTCDateTime,
            }
            table = sa.table("timeline_entry", *(sa.column(k, types.get(k)) for k in old[0]))
            conn.execute(table.insert(), old)
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT complaint_id, dedupe_key, media_urls, echo_of FROM timeline_entry ORDER BY id"
                )
            ).all()
    finally:
        engine.dispose()
    mp_rows = {row[1]: row for row in rows if row[0] == mp_id}
    detail = {  # the same nodes as the mapping keys them today
        "complaintOrder": {"complaintOrderId": "7000000000000000001", "createTime": t1},
        "item": [
            {"itemType": 1, "time": t1, "content": "没收到货", "mediaIdList": ["https://cdn/x?sig=9"]},
            {"itemType": 2, "time": t2, "content": "在吗"},
            {"itemType": 2, "time": t2, "content": "在吗"},
        ],
    }
    expected = {f"h:{entry.external_id}" for entry in to_history(detail)}
    assert set(mp_rows) == expected | {"a:action-1"} and len(expected) == 3
    node = next(row for key, row in mp_rows.items() if key.startswith("h:1@"))
    media = node[2] if isinstance(node[2], list) else json.loads(node[2])
    assert media == ["https://cdn/x?sig=3"]  # the newest links
    assert {row[1] for row in rows if row[0] == wx_id} == {"h:300285320210322170000071077"}
    assert all(row[3] is None for row in rows)
