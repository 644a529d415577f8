"""The package's public surface is deliberate."""

from __future__ import annotations

import complaintdesk.channels.wechatpay as wechatpay


def test_all_names_exist_and_are_unique() -> None:
    assert len(wechatpay.__all__) == len(set(wechatpay.__all__))
    for name in wechatpay.__all__:
        assert hasattr(wechatpay, name), name


def test_public_names_are_exported() -> None:
    public = {name for name in vars(wechatpay) if not name.startswith("_")}
    modules = {
        "actions",
        "annotations",
        "auth",
        "channel",
        "client",
        "commands",
        "crypto",
        "errors",
        "fields",
        "images",
        "mapping",
        "models",
        "reads",
        "rich_message",
        "transport",
        "webhook",
    }
    assert public - modules == set(wechatpay.__all__)
