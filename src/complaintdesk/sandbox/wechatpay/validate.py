"""Checks for the JSON bodies of the simulator's write endpoints; failures are 400 ``PARAM_ERROR``.

Rules applied to every body (spec §3.10): a JSON object, no ``null`` anywhere (omit instead), and no
4-byte UTF-8 characters (emoji) in any string. Unknown fields are ignored unless an endpoint says otherwise.
Lengths are counted in characters. Errors carry ``detail`` = ``{"field", "issue", "location": "body"}``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from complaintdesk.sandbox.wechatpay.gate import ApiError


def param_error(field: str, issue: str) -> ApiError:
    """400 PARAM_ERROR naming ``field``."""
    return ApiError(
        400, "PARAM_ERROR", f"参数{field}错误：{issue}", {"field": field, "issue": issue, "location": "body"}
    )


def _find_null(value: Any, path: str) -> str | None:
    if value is None:
        return path
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    for sub_path, item in items:
        found = _find_null(item, sub_path)
        if found is not None:
            return found
    return None


def json_body(raw: bytes) -> Body:
    """Parse the request body as a JSON object without nulls."""
    try:
        value = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "PARAM_ERROR", "请求体必须是JSON对象")
    null = _find_null(value, "")
    if null is not None:
        raise param_error(null, "不能为null，不需要的字段请不要传")
    return Body(value)


def has_4byte_char(text: str) -> bool:
    """True when ``text`` needs 4 bytes in UTF-8 somewhere (emoji and other non-BMP characters)."""
    return any(ord(ch) > 0xFFFF for ch in text)


def is_https_url(value: str, *, allow_http: bool = False) -> bool:
    """An absolute https (or, when allowed, http) URL with a host and no whitespace."""
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_http else ("https",)
    return parts.scheme in schemes and bool(parts.netloc) and not any(ch.isspace() for ch in value)


class Body:
    """A JSON object being validated; errors name fields by their path (``message.blocks[0].type``)."""

    def __init__(self, data: dict[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    def name(self, key: str) -> str:
        """The full path of ``key``."""
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """True when ``key`` is present."""
        return key in self.data

    def string(self, key: str, *, required: bool = False, max_chars: int | None = None) -> str | None:
        """A non-empty string without 4-byte characters, at most ``max_chars`` long."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise param_error(self.name(key), "缺少必填字段")
            return None
        if not isinstance(value, str):
            raise param_error(self.name(key), "必须是字符串")
        if value == "":
            raise param_error(self.name(key), "不能为空")
        if max_chars is not None and len(value) > max_chars:
            raise param_error(self.name(key), f"长度不能超过{max_chars}个字符")
        if has_4byte_char(value):
            raise param_error(self.name(key), "不能包含4字节UTF-8字符（如emoji）")
        return value

    def required(self, key: str, *, max_chars: int | None = None) -> str:
        """A required string (see ``string``)."""
        value = self.string(key, required=True, max_chars=max_chars)
        assert value is not None
        return value

    def choice(self, key: str, options: Collection[str], *, required: bool = False) -> str | None:
        """A string out of ``options``."""
        value = self.string(key, required=required)
        if value is not None and value not in options:
            raise param_error(self.name(key), f"取值必须是{'/'.join(sorted(options))}之一")
        return value

    def url(
        self, key: str, *, max_chars: int, required: bool = False, allow_http: bool = False
    ) -> str | None:
        """An https URL (http too when ``allow_http``)."""
        value = self.string(key, required=required, max_chars=max_chars)
        if value is not None and not is_https_url(value, allow_http=allow_http):
            raise param_error(self.name(key), "必须是https链接")
        return value

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        """An integer (not a bool) of at least ``minimum``."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise param_error(self.name(key), "必须是整数")
        if value < minimum:
            raise param_error(self.name(key), f"不能小于{minimum}")
        return value

    def boolean(self, key: str) -> bool | None:
        """A JSON boolean."""
        value = self.data.get(key)
        if value is not None and not isinstance(value, bool):
            raise param_error(self.name(key), "必须是布尔值")
        return value

    def obj(self, key: str, *, required: bool = False) -> Body | None:
        """A nested object."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise param_error(self.name(key), "缺少必填字段")
            return None
        if not isinstance(value, dict):
            raise param_error(self.name(key), "必须是对象")
        return Body(value, self.name(key))

    def array(
        self, key: str, *, required: bool = False, min_items: int = 0, max_items: int | None = None
    ) -> list[Any] | None:
        """A list with ``min_items``..``max_items`` elements."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise param_error(self.name(key), "缺少必填字段")
            return None
        if not isinstance(value, list):
            raise param_error(self.name(key), "必须是数组")
        if len(value) < min_items:
            raise param_error(self.name(key), f"至少需要{min_items}个元素")
        if max_items is not None and len(value) > max_items:
            raise param_error(self.name(key), f"最多{max_items}个元素")
        return value

    def objects(self, key: str, *, required: bool = False, min_items: int = 0) -> list[Body]:
        """A list of objects."""
        items = self.array(key, required=required, min_items=min_items) or []
        bodies = []
        for index, item in enumerate(items):
            path = f"{self.name(key)}[{index}]"
            if not isinstance(item, dict):
                raise param_error(path, "必须是对象")
            bodies.append(Body(item, path))
        return bodies
