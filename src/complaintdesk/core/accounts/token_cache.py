"""Upstream access tokens cached in the database, so that every process shares one token per account."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, Float, String, Text, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.db import Base
from complaintdesk.security import DataCipher


class CachedToken(Base):
    """One cached upstream access token, encrypted with the data key."""

    __tablename__ = "cached_token"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float] = mapped_column(Float)


class DbTokenStore:
    """``TokenStore`` backed by the ``cached_token`` table."""

    def __init__(self, engine: Engine, cipher: DataCipher) -> None:
        self._engine = engine
        self._cipher = cipher

    async def get(self, key: str) -> tuple[str, float] | None:
        """The cached token and its expiry, if any."""

        def read() -> tuple[str, float] | None:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(CachedToken.token, CachedToken.expires_at).where(CachedToken.key == key)
                ).first()
            return (self._cipher.decrypt(str(row[0])), float(row[1])) if row else None

        return await asyncio.to_thread(read)

    async def put(self, key: str, token: str, expires_at: float) -> None:
        """Replace the cached token."""

        def write() -> None:
            with self._engine.begin() as conn:
                conn.execute(delete(CachedToken).where(CachedToken.key == key))
                sealed = self._cipher.encrypt(token)
                conn.execute(insert(CachedToken).values(key=key, token=sealed, expires_at=expires_at))

        await asyncio.to_thread(write)
