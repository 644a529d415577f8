"""Merchants known to the Huishouqian simulator: credentials, agents (代理商), notify URLs."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from complaintdesk.sandbox.huishouqian.crypto import certificate_public_key
from complaintdesk.sandbox.huishouqian.keys import CFCA, MerchantCredentials


@dataclass
class Merchant:
    """A registered merchant (or agent) that may call the gateway."""

    credentials: MerchantCredentials
    public_key: rsa.RSAPublicKey
    notify_url: str | None
    agent_no: str | None = None
    key_configured: bool = True  # False: every call answers 130011 商户秘钥未配置
    merchants: set[str] = field(default_factory=set)  # for agents: the merchants under it

    @property
    def merchant_no(self) -> str:
        """The merchant number."""
        return self.credentials.merchant_no

    @property
    def cfca(self) -> bool:
        """True when provisioned for ``signType=CFCA``."""
        return self.credentials.sign_type == CFCA


class MerchantRegistry:
    """Merchants and agents; an agent sees, and is notified about, its merchants' complaints."""

    def __init__(self) -> None:
        self._merchants: dict[str, Merchant] = {}

    def register(
        self,
        credentials: MerchantCredentials,
        *,
        agent_of: str | None,
        notify_url: str | None,
        key_configured: bool,
    ) -> Merchant:
        """Add a merchant, optionally under a registered agent (one level: agents have no agent)."""
        number = credentials.merchant_no
        if not (number.isascii() and number.isdigit() and len(number) <= 16):
            raise ValueError("merchant numbers are up to 16 digits")
        if number in self._merchants:
            raise ValueError(f"merchant {number} is already registered")
        if agent_of is not None:
            agent = self.require(agent_of)
            if agent.agent_no is not None:
                raise ValueError(f"{agent_of} is itself under an agent")
            agent.merchants.add(number)
        key = certificate_public_key(credentials.certificate_pem)
        merchant = Merchant(credentials, key, notify_url, agent_of, key_configured)
        self._merchants[number] = merchant
        return merchant

    def get(self, merchant_no: str) -> Merchant | None:
        """The merchant, if registered."""
        return self._merchants.get(merchant_no)

    def require(self, merchant_no: str) -> Merchant:
        """The merchant, or ``ValueError``."""
        merchant = self._merchants.get(merchant_no)
        if merchant is None:
            raise ValueError(f"merchant {merchant_no} is not registered")
        return merchant

    def ids(self) -> list[str]:
        """Registered merchant numbers."""
        return list(self._merchants)

    def is_agent(self, merchant_no: str) -> bool:
        """True for a registered merchant that has merchants under it."""
        merchant = self._merchants.get(merchant_no)
        return bool(merchant and merchant.merchants)

    def can_see(self, caller: str, merchant_no: str) -> bool:
        """The caller is the merchant itself or its agent."""
        merchant = self._merchants.get(merchant_no)
        return caller == merchant_no or (merchant is not None and merchant.agent_no == caller)

    def complaint_targets(self) -> list[str]:
        """Merchants a scenario files complaints against (everyone except agents)."""
        return [no for no, merchant in self._merchants.items() if not merchant.merchants]

    def recipients(self, merchant_no: str) -> list[Merchant]:
        """Who is notified about ``merchant_no``'s complaints: the merchant, then its agent."""
        merchant = self.require(merchant_no)
        found = [merchant]
        if merchant.agent_no is not None:
            found.append(self.require(merchant.agent_no))
        return found
