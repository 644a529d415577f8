"""The WeChat Pay complaint channel as the core sees it (``ChannelAdapter``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta

from complaintdesk.channels.base import ComplaintSnapshot, HistoryEntry
from complaintdesk.channels.wechatpay.client import WeChatPayClient
from complaintdesk.channels.wechatpay.crypto import decrypt_oaep
from complaintdesk.channels.wechatpay.mapping import to_history_entry, to_snapshot

__all__ = ["LIST_PIECE_DAYS", "WeChatPayChannel", "split_window"]

#: Calendar days (inclusive) per list request when a longer window is split; stricter than the 30-day rule.
LIST_PIECE_DAYS = 30


def split_window(begin: date, end: date, *, days: int = LIST_PIECE_DAYS) -> Iterator[tuple[date, date]]:
    """Cover [begin, end] with consecutive inclusive pieces of at most ``days`` calendar days."""
    if end < begin:
        raise ValueError("end is before begin")
    if days < 1:
        raise ValueError("days must be at least 1")
    start = begin
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        yield start, stop
        start = stop + timedelta(days=1)


class WeChatPayChannel:
    """Fetch and list complaints of one WeChat Pay merchant (or SP) account as neutral snapshots."""

    name = "wechatpay"

    def __init__(self, client: WeChatPayClient, *, complainted_mchid: str | None = None) -> None:
        self.client = client
        self._complainted_mchid = complainted_mchid

    def _decrypt_phone(self, ciphertext: str) -> str:
        """Decrypt ``payer_phone`` with the merchant private key."""
        return decrypt_oaep(self.client.credentials.private_key, ciphertext)

    async def fetch(self, external_id: str, *, with_history: bool = True) -> ComplaintSnapshot:
        """Fetch one complaint (and its full history) by complaint id."""
        complaint = await self.client.get_complaint(external_id)
        history = await self.client.iter_history(external_id) if with_history else None
        return to_snapshot(complaint, history=history, decrypt_phone=self._decrypt_phone)

    async def list_window(self, begin: date, end: date) -> AsyncIterator[ComplaintSnapshot]:
        """Yield every complaint created in [begin, end] (history not fetched)."""
        seen: set[str] = set()
        for start, stop in split_window(begin, end):
            async for complaint in self.client.iter_complaints(
                begin_date=start, end_date=stop, complainted_mchid=self._complainted_mchid
            ):
                if complaint.complaint_id in seen:
                    continue
                seen.add(complaint.complaint_id)
                yield to_snapshot(complaint, history=None, decrypt_phone=self._decrypt_phone)

    async def fetch_history(self, external_id: str) -> list[HistoryEntry]:
        """Fetch the complete negotiation history of one complaint."""
        return [to_history_entry(entry) for entry in await self.client.iter_history(external_id)]

    async def aclose(self) -> None:
        """Release connections."""
        await self.client.aclose()
