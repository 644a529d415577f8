"""The Mini Program complaint channel as the core sees it (``ChannelAdapter`` and ``ActionChannel``).

There is no list API: ``list_window`` raises ``NotImplementedError`` and the runtime says ``can_list=False``;
reconciliation refreshes known complaints by id. Media ids live 3 days: :meth:`upload_image` reuses an id
of the same bytes younger than ``media_id_ttl_seconds`` and uploads again otherwise, and an action refused
because a media id expired (errcode 40007) forgets the ids it used (see :func:`.errors.is_media_expired`).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date
from typing import Any

import httpx

from complaintdesk.channels.base import (
    ActionKind,
    ActionOutcome,
    ActionRequest,
    ComplaintFacts,
    ComplaintSnapshot,
    HistoryEntry,
)
from complaintdesk.channels.miniprogram import actions
from complaintdesk.channels.miniprogram.client import MiniProgramClient, numeric_id
from complaintdesk.channels.miniprogram.errors import is_media_expired
from complaintdesk.channels.miniprogram.images import check_image, upload_filename
from complaintdesk.channels.miniprogram.mapping import to_history, to_snapshot
from complaintdesk.errors import ActionRefused, ChannelAPIError

__all__ = ["MiniProgramChannel"]

CHANNEL = "miniprogram"


def _media_ids(refs: list[str], media_ids: Mapping[str, str]) -> list[str]:
    missing = [ref for ref in refs if not media_ids.get(ref)]
    if missing:
        raise ActionRefused(
            f"{len(missing)} image(s) not uploaded yet (first: {missing[0][:16]}); upload before sending",
            field="images",
        )
    return [media_ids[ref] for ref in refs]


class MiniProgramChannel:
    """One mini program: complaints as neutral snapshots, and the four merchant actions.

    Actions go ``validate`` → (``upload_image`` for each of ``image_refs``) → ``perform``; the rules
    live in :mod:`.actions`.
    """

    name = CHANNEL

    def __init__(self, client: MiniProgramClient, *, time: Callable[[], float]) -> None:
        self.client = client
        self.settings = client.settings
        self._time = time
        self._limits = actions.Limits(
            content_max_chars=self.settings.content_max_chars, max_images=self.settings.max_images
        )
        self._uploads: dict[str, tuple[str, float]] = {}  # sha256 of the bytes → (media id, uploaded at)

    # -- reads (ChannelAdapter) ---------------------------------------------------------------------------

    async def fetch(self, external_id: str, *, with_history: bool = True) -> ComplaintSnapshot:
        """Fetch one complaint (its ``item`` timeline comes with the detail)."""
        detail = await self.client.get_detail(external_id)
        return to_snapshot(detail, appid=self.client.appid, with_history=with_history)

    def list_window(self, begin: date, end: date) -> AsyncIterator[ComplaintSnapshot]:
        """Not available: the Mini Program has no list API (``ChannelRuntime.can_list`` is False)."""
        raise NotImplementedError(
            "the Mini Program has no complaint list API; refresh known complaints by id"
        )

    async def fetch_history(self, external_id: str) -> list[HistoryEntry]:
        """The complaint's ``item`` timeline (one detail call)."""
        return to_history(await self.client.get_detail(external_id))

    async def aclose(self) -> None:
        """Release connections."""
        await self.client.aclose()

    # -- actions (ActionChannel) --------------------------------------------------------------------------

    def allowed_actions(self, facts: ComplaintFacts) -> set[ActionKind]:
        """``{REPLY}`` when the status allows any Mini Program action (see :func:`allowed_mp_actions`)."""
        return actions.allowed_actions(facts)

    def allowed_mp_actions(self, facts: ComplaintFacts) -> set[str]:
        """The ``mp_action`` values allowed now (respond, supply_proof, supply_refund, appeal)."""
        return actions.allowed_mp_actions(facts)

    def return_bill_id(self, facts: ComplaintFacts) -> str | None:
        """The return waybill a refund proof answers, when the complaint is in the return flow."""
        return actions.return_bill_id(facts.raw)

    def validate(self, kind: ActionKind, params: dict[str, Any], facts: ComplaintFacts) -> dict[str, Any]:
        """Status guard, then parameter rules; return normalised params or raise ``ActionRefused``."""
        return actions.validate(kind, params, facts, limits=self._limits)

    def image_refs(self, kind: ActionKind, params: dict[str, Any]) -> list[str]:
        """Local image references in validated params that must be uploaded before ``perform``."""
        return actions.image_refs(kind, params)

    def check_image(self, data: bytes, filename: str) -> str:
        """Refuse what the upload would refuse (PNG/JPEG/GIF by content, size); return the content type."""
        return check_image(data, filename, max_bytes=self.settings.image_max_bytes)

    async def upload_image(self, data: bytes, filename: str) -> str:
        """Upload evidence (named ``<sha256>.<ext>``) and return a media id valid for the next actions."""
        content_type = self.check_image(data, filename)
        digest = hashlib.sha256(data).hexdigest()
        cached = self._uploads.get(digest)
        if cached is not None and self._time() - cached[1] < self.settings.media_id_ttl_seconds:
            return cached[0]
        media = await self.client.upload_image(data, upload_filename(digest, content_type), content_type)
        uploaded_at = float(media.created_at) if media.created_at else self._time()
        self._uploads[digest] = (media.media_id, min(uploaded_at, self._time()))
        return media.media_id

    def media_id_fresh(self, uploaded_at: float) -> bool:
        """Whether a media id uploaded at ``uploaded_at`` (epoch seconds) may still be sent."""
        return self._time() - uploaded_at < self.settings.media_id_ttl_seconds

    def forget_media(self, media_ids: list[str]) -> None:
        """Drop cached uploads whose ids the upstream no longer accepts."""
        dropped = set(media_ids)
        self._uploads = {key: value for key, value in self._uploads.items() if value[0] not in dropped}

    async def perform(self, request: ActionRequest) -> ActionOutcome:
        """Send one action. After sending, transport errors raise ``ChannelTransportError(sent=True)`` and
        5xx/-1 answers ``UpstreamUnavailable`` (uncertain): check :meth:`applied_in_history` before repeating.
        """
        params = actions.validate_params(request.kind, request.params, limits=self._limits)
        try:
            numeric_id(request.external_id)
        except ValueError:
            raise ActionRefused(
                f"complaint id {request.external_id[:40]!r} is not a numeric complaintOrderId",
                field="external_id",
            ) from None
        media_ids = _media_ids(params["images"], request.media_ids)
        common: dict[str, Any] = {"content": params["content"], "media_ids": media_ids}
        action = params["mp_action"]
        client = self.client
        try:
            if action == "respond":
                doc = await client.respond(request.external_id, agree=params["agree"], **common)
            elif action == "supply_proof":
                doc = await client.supply_proof(request.external_id, **common)
            elif action == "supply_refund":
                doc = await client.supply_refund(request.external_id, **common, **self._return_fields(params))
            else:
                doc = await client.appeal(request.external_id, **common)
        except ChannelAPIError as exc:
            if is_media_expired(exc):
                self.forget_media(media_ids)
            raise
        return ActionOutcome(raw={"mp_action": action, **{k: v for k, v in doc.items() if k != "errmsg"}})

    def _return_fields(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``acceptReturn`` (wire value from settings: undocumented) and ``returnId``, or nothing."""
        if "accept_return" not in params and "return_id" not in params:
            return {}
        if "accept_return" not in params or "return_id" not in params:
            raise ActionRefused(
                "accept_return and return_id go together in the return flow", field="accept_return"
            )
        settings = self.settings
        wire = (
            settings.accept_return_received_value
            if params["accept_return"]
            else settings.accept_return_not_received_value
        )
        return {"accept_return": wire, "return_id": params["return_id"]}

    def applied_in_history(self, request: ActionRequest, history: list[HistoryEntry]) -> bool:
        """Whether the ``item`` timeline shows this action already applied (for uncertain sends)."""
        return actions.applied_in_history(request, history)

    def _media_url(self, url: str) -> httpx.URL:
        """Allow only https URLs on the configured image hosts, or the API base itself (a sandbox)."""
        parsed = httpx.URL(url)
        base = self.client.base_url
        if (parsed.scheme, parsed.host, parsed.port) == (base.scheme, base.host, base.port):
            return parsed
        host = parsed.host.lower()
        allowed = any(
            host == suffix or host.endswith("." + suffix) for suffix in self.settings.media_host_suffixes
        )
        if parsed.scheme != "https" or not allowed:
            raise ValueError("the image URL is not an https link on a WeChat image host")
        return parsed

    async def download_image(self, url: str) -> tuple[bytes, str]:
        """Fetch complaint evidence by its CDN URL (no access token is sent): (bytes, content type)."""
        return await self.client.download_image(self._media_url(url))
