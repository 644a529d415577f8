"""Merchants known to the WeChat Pay simulator: credentials, service-provider tree, callback URLs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from complaintdesk.sandbox.wechatpay.crypto import certificate_public_key
from complaintdesk.sandbox.wechatpay.keys import MerchantCredentials


@dataclass
class Merchant:
    """A registered (calling) merchant."""

    credentials: MerchantCredentials
    public_key: rsa.RSAPublicKey
    notify_url: str | None
    sub_mchids: set[str] = field(default_factory=set)


class MerchantRegistry:
    """Direct merchants and service providers with their sub-merchants."""

    def __init__(self) -> None:
        self._merchants: dict[str, Merchant] = {}
        self._parent: dict[str, str] = {}

    def register(
        self, credentials: MerchantCredentials, sub_mchids: Sequence[str], notify_url: str | None
    ) -> None:
        """Add or replace a merchant; a sub-merchant belongs to at most one service provider."""
        for sub in sub_mchids:
            owner = self._parent.get(sub)
            if owner is not None and owner != credentials.mchid:
                raise ValueError(f"sub-merchant {sub} already belongs to {owner}")
        key = certificate_public_key(credentials.certificate_pem)
        self._merchants[credentials.mchid] = Merchant(credentials, key, notify_url, set(sub_mchids))
        for sub in sub_mchids:
            self._parent[sub] = credentials.mchid

    def get(self, mchid: str) -> Merchant | None:
        """The merchant, if registered."""
        return self._merchants.get(mchid)

    def require(self, mchid: str) -> Merchant:
        """The merchant, or ``ValueError``."""
        merchant = self._merchants.get(mchid)
        if merchant is None:
            raise ValueError(f"merchant {mchid} is not registered")
        return merchant

    def ids(self) -> list[str]:
        """Registered merchant ids."""
        return list(self._merchants)

    def knows(self, mchid: str) -> bool:
        """True for registered merchants and sub-merchants of a registered service provider."""
        return mchid in self._merchants or mchid in self._parent

    def parent(self, mchid: str) -> str | None:
        """The service provider of a sub-merchant."""
        return self._parent.get(mchid)

    def visible(self, caller: str) -> set[str]:
        """Merchants whose complaints ``caller`` may see: itself plus its sub-merchants."""
        merchant = self._merchants.get(caller)
        return {caller, *merchant.sub_mchids} if merchant else set()

    def complaint_targets(self) -> list[str]:
        """Merchants a complaint can be filed against: sub-merchants, and merchants without any."""
        targets = [m for m, merchant in self._merchants.items() if not merchant.sub_mchids]
        return targets + [sub for sub in self._parent if sub not in self._merchants]

    def recipients(self, mchid: str) -> list[str]:
        """Who is notified about ``mchid``'s complaints: its service provider, and itself if registered."""
        recipients = [self._parent[mchid]] if mchid in self._parent else []
        if mchid in self._merchants and mchid not in recipients:
            recipients.append(mchid)
        return recipients
