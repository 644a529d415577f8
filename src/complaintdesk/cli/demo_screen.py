"""The demo's ports (given or derived, checked before anything starts), first screen and font check."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The one command that gives this machine a CJK font (Chinese otherwise shows as boxes).
FONT_FIX = "apt-get install -y fonts-wqy-microhei"


@dataclass(frozen=True)
class DemoPorts:
    """Every port the demo listens on (all on 127.0.0.1)."""

    desk: int
    wechatpay: int
    miniprogram: int
    huishouqian: int
    receiver: int

    @classmethod
    def derive(
        cls, desk: int, wechatpay: int, miniprogram: int, huishouqian: int, receiver: int
    ) -> DemoPorts:
        """Fill the ports left at 0: WeChat Pay desk + 1; Mini Program, Huishouqian, receiver +1, +2, +3."""
        wechatpay = wechatpay or desk + 1
        return cls(
            desk=desk,
            wechatpay=wechatpay,
            miniprogram=miniprogram or wechatpay + 1,
            huishouqian=huishouqian or wechatpay + 2,
            receiver=receiver or wechatpay + 3,
        )

    def named(self) -> dict[str, int]:
        return {
            "complaintdesk (--port)": self.desk,
            "WeChat Pay simulator (--simulator-port)": self.wechatpay,
            "Mini Program simulator (--miniprogram-port)": self.miniprogram,
            "Huishouqian simulator (--huishouqian-port)": self.huishouqian,
            "alert receiver (--receiver-port)": self.receiver,
        }

    def problems(self) -> list[str]:
        """Why the demo cannot listen on these ports (empty when it can)."""
        found: list[str] = []
        seen: dict[int, str] = {}
        for name, port in self.named().items():
            if not 1 <= port <= 65535:
                found.append(f"{name}: port {port} is outside 1-65535")
            elif port in seen:
                found.append(f"{name}: port {port} is already given to the {seen[port]}")
            else:
                seen[port] = name
                if not _free(port):
                    found.append(f"{name}: port {port} is in use on 127.0.0.1")
        return found


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cjk_font_missing() -> bool:
    """Whether fontconfig knows no font for Chinese (or is not installed at all)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return True
    try:
        listed = subprocess.run(  # noqa: S603 - fontconfig's own tool, fixed arguments
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return True
    return listed.returncode != 0 or not listed.stdout.strip()


def first_screen(ports: DemoPorts, password: str, config: Path, log_file: Path, drop: float) -> list[str]:
    """The lines printed once everything listens: where to sign in, the simulators and their webhooks."""
    desk = f"http://127.0.0.1:{ports.desk}"
    hook = f"{desk}/webhooks"
    return [
        "",
        "complaintdesk demo is running",
        f"  console          {desk}/   login: admin / {password}",
        f"  API docs         {desk}/docs   (token in .demo/api_token.txt)",
        "  simulators (state page) and the webhook each one calls:",
        f"    WeChat Pay     http://127.0.0.1:{ports.wechatpay}/sandbox/state   ({drop:.0%} dropped)",
        f"                   -> {hook}/wechatpay/demo-shop, {hook}/wechatpay/demo-provider",
        f"    Mini Program   http://127.0.0.1:{ports.miniprogram}/sandbox/state",
        f"                   -> {hook}/miniprogram/demo-mp",
        f"    Huishouqian    http://127.0.0.1:{ports.huishouqian}/sandbox/state",
        f"                   -> {hook}/huishouqian/demo-hsq",
        f"  alert receiver   http://127.0.0.1:{ports.receiver}/",
        f"  log              {log_file}   (expected refusals of test probes land there too)",
        f"  CLI              export COMPLAINTDESK_CONFIG={config}; complaintdesk complaints list",
        "  Ctrl-C stops everything.",
        "",
    ]
