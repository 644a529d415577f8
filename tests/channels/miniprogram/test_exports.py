"""The package's public surface is deliberate."""

from __future__ import annotations

import complaintdesk.channels.miniprogram as miniprogram


def test_all_names_exist_and_are_unique() -> None:
    assert len(miniprogram.__all__) == len(set(miniprogram.__all__))
    for name in miniprogram.__all__:
        assert hasattr(miniprogram, name), name


def test_public_names_are_exported() -> None:
    public = {name for name in vars(miniprogram) if not name.startswith("_")}
    modules = {
        "actions",
        "annotations",
        "channel",
        "client",
        "crypto",
        "enums",
        "errors",
        "images",
        "mapping",
        "messages",
        "models",
        "runtime",
        "token",
        "transport",
        "webhook",
    }
    assert public - modules == set(miniprogram.__all__)


def test_the_registry_finds_build_runtime() -> None:
    from complaintdesk.channels.registry import builder_for

    assert builder_for("miniprogram") is miniprogram.build_runtime
