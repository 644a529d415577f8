"""timeline integrity: stable Mini Program history keys, no empty entries, echoes linked to our actions

Revision: 0006t (after 0005), 2026-12-04

* ``timeline_entry.echo_of``: an upstream history entry that records one of our actions points at the
  action's entry (shown instead of it). Existing echoes are linked on the complaint's next refresh.
* Mini Program history keys hashed the node's media URLs, which change on every fetch, so each fetch
  stored the same node again. Keys become ``<itemType>@<time>:<sha256(text)[:12]>`` (``#n`` for the n-th
  identical node of one fetch, as the old ``-n`` suffix said). Type and time are read from the old key,
  the text from the row; of the rows that share a new key the oldest is kept with the newest media.
* History entries with no text, no images and no type are deleted (they say nothing).

The data steps are written out here (not imported from the application) so this revision keeps doing
what it did when the mapping changes later.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006t"
down_revision = "0005"
branch_labels = None
depends_on = None

_entry = sa.table(
    "timeline_entry",
    sa.column("id", sa.Integer),
    sa.column("complaint_id", sa.Integer),
    sa.column("dedupe_key", sa.String),
    sa.column("source", sa.String),
    sa.column("kind", sa.String),
    sa.column("text", sa.Text),
    sa.column("media_urls", sa.JSON),
    sa.column("raw", sa.JSON),
)
_complaint = sa.table("complaint", sa.column("id", sa.Integer), sa.column("channel", sa.String))


def stable_key(old_key: str, text: str) -> str | None:
    """The new key of a Mini Program history row from its old key and text (None: not an old key)."""
    parts = old_key.removeprefix("h:").split("-") if old_key.startswith("h:") else []
    if len(parts) not in (3, 4) or not parts[1].isdigit() or (len(parts) == 4 and not parts[3].isdigit()):
        return None
    item_type, time = parts[0], parts[1]
    digest = hashlib.sha256(text.strip().encode()).hexdigest()[:12]
    key = f"h:{item_type}@{time}:{digest}"
    return key if len(parts) == 3 or parts[3] == "1" else f"{key}#{parts[3]}"


def _rekey_mini_program(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.select(_entry.c.id, _entry.c.complaint_id, _entry.c.dedupe_key, _entry.c.text,
                  _entry.c.media_urls, _entry.c.raw)
        .join(_complaint, _complaint.c.id == _entry.c.complaint_id)
        .where(_complaint.c.channel == "miniprogram", _entry.c.source == "history")
        .order_by(_entry.c.id)
    ).all()  # fmt: skip
    groups: dict[tuple[int, str], list[Any]] = {}
    for row in rows:
        key = stable_key(row.dedupe_key, row.text or "")
        if key is not None:
            groups.setdefault((row.complaint_id, key), []).append(row)
    doomed = [row.id for group in groups.values() for row in group[1:]]
    for start in range(0, len(doomed), 500):
        bind.execute(sa.delete(_entry).where(_entry.c.id.in_(doomed[start : start + 500])))
    for (_cid, key), group in groups.items():
        newest = group[-1]
        bind.execute(
            sa.update(_entry)
            .where(_entry.c.id == group[0].id)
            .values(dedupe_key=key, media_urls=newest.media_urls, raw=newest.raw)
        )


def _delete_empty(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.select(_entry.c.id, _entry.c.media_urls).where(
            _entry.c.source == "history", _entry.c.kind == "", _entry.c.text == ""
        )
    ).all()
    empty = [row.id for row in rows if not row.media_urls]
    for start in range(0, len(empty), 500):
        bind.execute(sa.delete(_entry).where(_entry.c.id.in_(empty[start : start + 500])))


def upgrade() -> None:
    # SQLite rebuilds the table; reflecting it meets the complaint table's expression indexes, which
    # SQLAlchemy cannot reflect (and the rebuild does not need): silence that warning only.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("timeline_entry") as batch:
            batch.add_column(sa.Column("echo_of", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                "fk_timeline_entry_echo_of_timeline_entry", "timeline_entry", ["echo_of"], ["id"],
                ondelete="SET NULL",
            )  # fmt: skip
    bind = op.get_bind()
    _rekey_mini_program(bind)
    _delete_empty(bind)


def downgrade() -> None:
    with op.batch_alter_table("timeline_entry") as batch:
        batch.drop_constraint("fk_timeline_entry_echo_of_timeline_entry", type_="foreignkey")
        batch.drop_column("echo_of")
