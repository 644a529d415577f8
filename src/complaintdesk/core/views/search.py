"""Full-text search over complaint text, order numbers and complaint ids, one function per database.

* SQLite: an FTS5 table ``complaint_fts`` (trigram tokenizer, external content = ``complaint``) kept in
  sync by triggers; Chinese text has no spaces, so trigrams give substring search for 3+ characters.
* PostgreSQL: a ``pg_trgm`` GIN index on :data:`PG_SEARCH_EXPRESSION`, used by ``ILIKE '%…%'``.

Both are created by migration 0004 through :func:`install`; :func:`install` is idempotent so a later
migration that rebuilds the ``complaint`` table (SQLite batch mode drops its triggers) can call it again.
A selective term is resolved to ids through the index and joined to the filter (SQLite:
:func:`indexed_among`, up to :data:`JOIN_CAP` ids; PostgreSQL: :func:`matching_ids` and :func:`among` up
to :data:`ID_CAP`, or inside a narrowing filter the planner's join, :func:`planned`); a term that matches
more, or is shorter than 3 characters on SQLite, becomes a ``LIKE`` condition checked while the inbox
walks its sort index (matches are then common, so the walk is short).
Inside a narrow filter (at most :data:`NARROW_CAP` rows) the term is checked on the filter's own rows
(:func:`within`), however common it is in the whole table.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint

log = logging.getLogger(__name__)

FTS_TABLE = "complaint_fts"
PG_INDEX = "ix_complaint_search_trgm"
#: Expression indexes on the first order's numbers: an order number typed in full is found at once.
ORDER_INDEXES = {
    "ix_complaint_first_out_trade_no": "out_trade_no",
    "ix_complaint_first_transaction_id": "transaction_id",
}
#: Names this module creates outside the ORM metadata (schema comparisons must ignore them).
SEARCH_OBJECTS = frozenset(
    {
        FTS_TABLE,
        *(f"{FTS_TABLE}_{suffix}" for suffix in ("data", "idx", "docsize", "config", "content")),
        PG_INDEX,
        *ORDER_INDEXES,
    }
)
PG_SEARCH_EXPRESSION = (
    "(external_id || ' ' || coalesce(problem_description, '') || ' ' || coalesce(detail, '') || ' ' "
    "|| coalesce(CAST(orders AS TEXT), ''))"
)
_COLUMNS = ("external_id", "problem_description", "detail", "orders")
_MIN_TRIGRAM = 3
#: Up to this many matches a search is resolved to an id list first (fast whatever the sort).
ID_CAP = 2000
#: A term with more matches than :data:`ID_CAP`, up to this many, is joined to the filter as its id list from
#: the full-text index (:func:`among`) instead of being looked for along the sort order.
JOIN_CAP = 20_000
#: A filter of up to this many rows has a common term checked on each of its rows (:func:`within`).
NARROW_CAP = 3000
_ID_LIKE = re.compile(r"^[A-Za-z0-9_\-]{6,64}$")


def _sqlite_statements() -> list[str]:
    cols = ", ".join(_COLUMNS)
    new = ", ".join(f"new.{c}" for c in _COLUMNS)
    old = ", ".join(f"old.{c}" for c in _COLUMNS)
    # Every name below is a constant of this module: nothing user-supplied reaches these statements.
    delete = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {cols}) VALUES ('delete', old.id, {old});"  # noqa: S608
    insert = f"INSERT INTO {FTS_TABLE}(rowid, {cols}) VALUES (new.id, {new});"  # noqa: S608
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({cols}, content='complaint', "
        "content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON complaint BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON complaint BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF {cols} ON complaint "
        f"BEGIN {delete} {insert} END",
    ]


def _order_key(dialect: str, key: str) -> str:
    if dialect == "postgresql":
        return f"(orders->0->>'{key}')"
    return f"json_extract(orders, '$[0].{key}')"


def install(connection: Connection) -> str:
    """Create the search index for the connection's database (idempotent); returns what was done."""
    dialect = connection.dialect.name
    for name, key in ORDER_INDEXES.items():
        if dialect in ("sqlite", "postgresql"):
            connection.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {name} ON complaint ({_order_key(dialect, key)})"
            )
    if dialect == "sqlite":
        existed = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (FTS_TABLE,)
        ).first()
        for statement in _sqlite_statements():
            connection.exec_driver_sql(statement)
        if not existed:
            connection.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")  # noqa: S608
        return "sqlite fts5 trigram"
    if dialect == "postgresql":
        savepoint = connection.begin_nested()
        try:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            savepoint.commit()
        except DBAPIError as exc:  # no privilege: search still works, by sequential scan
            savepoint.rollback()
            log.warning(
                "pg_trgm is not available (%s); console search will not be indexed", type(exc).__name__
            )
            return "postgresql without pg_trgm"
        target = f"complaint USING gin ({PG_SEARCH_EXPRESSION} gin_trgm_ops)"
        statement = f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {target}"
        connection.execute(text(statement))
        return "postgresql pg_trgm"
    return "none"


def uninstall(connection: Connection) -> None:
    """Drop the search index (migration downgrade)."""
    for name in ORDER_INDEXES:
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    if connection.dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP INDEX IF EXISTS {PG_INDEX}"))


def is_installed(engine: Engine) -> bool:
    """Whether the search index exists (SQLite: table and its three triggers)."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            found = connection.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name IN (?, ?, ?, ?)",
                (FTS_TABLE, f"{FTS_TABLE}_ai", f"{FTS_TABLE}_ad", f"{FTS_TABLE}_au"),
            ).scalar()
            return found == 4
        if connection.dialect.name == "postgresql":
            return connection.execute(text("SELECT to_regclass(:n)"), {"n": PG_INDEX}).scalar() is not None
    return False


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _uncased(term: str) -> bool:
    """Whether case cannot matter for ``term`` (Chinese, digits, punctuation: no cased letter, no mark)."""
    return term.lower() == term.upper() and not any(unicodedata.category(c).startswith("M") for c in term)


def _contains(column: Any, pattern: str, term: str) -> ColumnElement[bool]:
    """``column LIKE pattern``, case-insensitive (``ILIKE``, which lower-cases every row) only when the
    term has a cased letter."""
    if _uncased(term):
        like: ColumnElement[bool] = column.like(pattern, escape="\\")
        return like
    ilike: ColumnElement[bool] = column.ilike(pattern, escape="\\")
    return ilike


def like_clause(term: str, entity: Any = Complaint) -> ColumnElement[bool]:
    """``term`` in the text, orders or id of ``entity`` (Complaint or an alias of it), without an index."""
    term = term.strip()[:64]
    like = f"%{_escape_like(term)}%"
    return or_(
        entity.external_id == term,
        _contains(entity.detail, like, term),
        _contains(entity.problem_description, like, term),
        _contains(cast(entity.orders, Text), like, term),
    )


def exact_ids(session: Session, term: str) -> list[int]:
    """Complaints whose id, or first order's number, is exactly ``term`` (index lookups only)."""
    term = term.strip()
    if not looks_like_id(term):
        return []
    dialect = session.get_bind().dialect.name
    found: list[ColumnElement[bool]] = [Complaint.external_id == term]
    if dialect in ("sqlite", "postgresql"):
        found += [literal_column(_order_key(dialect, key)) == term for key in ORDER_INDEXES.values()]
    return sorted(set(session.scalars(select(Complaint.id).where(or_(*found)).limit(ID_CAP))))


def matches(term: str, dialect: str) -> ColumnElement[bool]:
    """A WHERE clause selecting complaints whose text, orders or ids contain ``term`` (no index needed).

    Used when a term matches too many complaints for :func:`matching_ids`: the inbox then walks its sort
    index and stops at the first page of matches, which is quick precisely because matches are common.
    """
    term = term.strip()[:64]
    if dialect == "postgresql":
        return or_(
            Complaint.external_id == term,
            _contains(literal_column(PG_SEARCH_EXPRESSION), f"%{_escape_like(term)}%", term),
        )
    return like_clause(term)


def matching_ids(session: Session, term: str, cap: int | None = None) -> list[int] | None:
    """Ids of the complaints containing ``term``, from the search index; None when more than ``cap`` match
    (or the term is too short for trigrams on SQLite): then filter with :func:`matches` instead."""
    cap = ID_CAP if cap is None else cap
    term = term.strip()[:64]
    dialect = session.get_bind().dialect.name
    exact = set(session.scalars(select(Complaint.id).where(Complaint.external_id == term)))
    found: list[int]
    if dialect == "sqlite":
        if len(term) < _MIN_TRIGRAM:
            return None
        phrase = '"' + term.replace('"', '""') + '"'
        statement = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? LIMIT ?"  # noqa: S608
        # The driver's own cursor: up to JOIN_CAP ids, whose conversion by the ORM cost 10-20 % more.
        driver: Any = session.connection().connection.driver_connection
        found = [row[0] for row in driver.execute(statement, (phrase, cap + 1)).fetchall()]
    elif dialect == "postgresql":
        like = f"%{_escape_like(term)}%"
        query = select(Complaint.id).where(literal_column(PG_SEARCH_EXPRESSION).ilike(like, escape="\\"))
        found = list(session.scalars(query.limit(cap + 1)))
    else:
        return None
    if len(found) > cap:
        return None
    return sorted(exact | set(found)) if exact else sorted(found)


def planned(term: str) -> ColumnElement[bool]:
    """:func:`matches` for PostgreSQL's planner to AND with a filter's index. An uncased term with two
    runs of 3+ letters or digits is looked up by the first trigram of the first run and the last of the
    last (two short lists of the GIN index instead of one per trigram of the term: 15 ms instead of 36
    for the benchmark's 13-character term), and checked whole by ``strpos`` on the rows in both lists."""
    term = term.strip()[:64]
    runs = [m.group() for m in re.finditer(r"\w{3,}", term) if m.group().isalnum()]
    if not _uncased(term) or not runs or (len(runs) == 1 and len(runs[0]) < 6):
        return matches(term, "postgresql")
    text_: ColumnElement[str] = literal_column(PG_SEARCH_EXPRESSION)
    first, last = runs[0][:3], runs[-1][-3:]
    return or_(
        Complaint.external_id == term,
        and_(
            text_.like(f"%{first}%"),
            text_.like(f"%{last}%"),
            func.strpos(text_, term) > 0,
        ),
    )


def joined_by_planner(session: Session, term: str) -> bool:
    """Whether the database combines the term's index with the filter's itself (PostgreSQL, a term of 3+
    characters: a bitmap AND of the trigram index and the filter's index, then only the rows in both are
    read), so that :func:`matches` is the cheapest condition; reading the matches' ids first would read
    (and recheck) every matching row of the table."""
    return session.get_bind().dialect.name == "postgresql" and len(term.strip()) >= _MIN_TRIGRAM


def among(session: Session, ids: list[int]) -> ColumnElement[bool]:
    """``Complaint.id`` among ``ids``: a list of parameters up to :data:`ID_CAP` ids, beyond that one
    parameter (a JSON array read by ``json_each`` on SQLite, an integer array on PostgreSQL), so that a
    term's matches in the full-text index (up to :data:`JOIN_CAP`) are joined to the filter and its sort
    by the database, along the filter's index in the sort order."""
    if not ids:
        return false()
    if len(ids) <= ID_CAP:
        return Complaint.id.in_(ids)
    if session.get_bind().dialect.name == "postgresql":
        return Complaint.id == any_(bindparam("among_ids", ids, type_=ARRAY(Integer)))
    return _json_among(json.dumps(ids), len(ids))


def _json_among(array: str, count: int) -> ColumnElement[bool]:
    """SQLite: ``Complaint.id`` among the ``count`` ids of a JSON ``array``, read by ``json_each``."""
    if not count:
        return false()
    values = func.json_each(bindparam("among_ids", array)).table_valued("value")
    # ``id + 0`` beyond ID_CAP ids: SQLite would otherwise look up every id and sort them all, even in a
    # filter that holds a page of them within its first rows; the filter's own index is walked instead.
    column = Complaint.id if count <= ID_CAP else Complaint.id + 0
    return column.in_(select(values.c.value))


def indexed_among(session: Session, term: str, cap: int | None = None) -> ColumnElement[bool] | None:
    """SQLite: :func:`among` the term's matches in the full-text index (up to ``cap``,
    :data:`JOIN_CAP`), their JSON array built by SQLite itself rather than a list of ids through Python
    (18 ms instead of 22 for 9,678 ids); None when more match or the term is shorter than 3 characters."""
    cap = JOIN_CAP if cap is None else cap
    term = term.strip()[:64]
    if len(term) < _MIN_TRIGRAM:
        return None
    if session.scalar(select(Complaint.id).where(Complaint.external_id == term).limit(1)) is not None:
        ids = matching_ids(session, term, cap)  # an exact id joins the index's matches
        return None if ids is None else among(session, ids)
    phrase = '"' + term.replace('"', '""') + '"'
    statement = (
        f"SELECT count(*), json_group_array(rowid) FROM (SELECT rowid FROM {FTS_TABLE} "  # noqa: S608
        f"WHERE {FTS_TABLE} MATCH ? LIMIT ?)"
    )
    driver: Any = session.connection().connection.driver_connection
    count, array = driver.execute(statement, (phrase, cap + 1)).fetchone()
    return None if count > cap else _json_among(array, count)


def within(
    session: Session, where: list[ColumnElement[bool]], term: str, cap: int | None = None
) -> list[int] | None:
    """Ids of the complaints matching ``where`` that contain ``term``, found by checking every row of the
    filter; None when the filter holds more than ``cap`` rows (:data:`NARROW_CAP`).

    The filter's ids are read first (up to ``cap + 1``, without an order, so through the filter's own
    indexes), then the term is checked on those rows: a narrow filter costs a few thousand ``LIKE``
    however common the term is in the whole table.
    """
    cap = NARROW_CAP if cap is None else cap
    ids = list(session.scalars(select(Complaint.id).where(*where).limit(cap + 1)))
    if len(ids) > cap:
        return None
    if not ids:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # one array parameter, one ILIKE on the indexed expression
        among = Complaint.id == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
        return list(session.scalars(select(Complaint.id).where(among, matches(term, dialect))))
    return list(session.scalars(select(Complaint.id).where(Complaint.id.in_(ids), like_clause(term))))


def clause(session: Session, term: str) -> ColumnElement[bool]:
    """The inbox's search condition: exact ids, else an id list from the index when selective, else
    :func:`matches`."""
    ids = exact_ids(session, term) or matching_ids(session, term)
    if ids is None:
        return matches(term, session.get_bind().dialect.name)
    return Complaint.id.in_(ids) if ids else false()


def looks_like_id(term: str) -> bool:
    """Whether the term could be a complaint id or an order number (letters, digits, ``-``/``_``)."""
    return bool(_ID_LIKE.match(term.strip()))
