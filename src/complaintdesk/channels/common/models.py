"""The tolerant pydantic base every channel's response models derive from."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticUseDefault

__all__ = ["TolerantModel", "as_list"]


class TolerantModel(BaseModel):
    """Base: unknown fields kept, numbers accepted as strings and vice versa, bad optional values dropped."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    #: Fields whose bad values must fail parsing instead of silently becoming the default.
    _strict_fields: ClassVar[frozenset[str]] = frozenset()
    #: The errors that make an optional field fall back to its default.
    _lenient_errors: ClassVar[tuple[type[Exception], ...]] = (ValidationError,)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _drift: list[str] = PrivateAttr(default_factory=list)

    @field_validator("*", mode="wrap")
    @classmethod
    def _lenient(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except cls._lenient_errors:
            name = info.field_name or ""
            if name in cls._strict_fields or cls.model_fields[name].is_required():
                raise
            if value is not None and isinstance(info.context, dict):
                drift = info.context.get("drift")
                if isinstance(drift, list):
                    drift.append(f"{cls.__name__}.{name}")
            raise PydanticUseDefault() from None

    @classmethod
    def from_raw(cls, data: dict[str, Any]) -> Self:
        """Parse ``data``, remembering the original document and any drifted fields."""
        drift: list[str] = []
        model = cls.model_validate(data, context={"drift": drift})
        model._raw = data
        model._drift = drift
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The document as received (empty when built without :meth:`from_raw`)."""
        return self._raw

    @property
    def drift(self) -> list[str]:
        """Optional fields whose received value was not understood and was replaced by the default."""
        return self._drift


def as_list(value: Any) -> Any:
    """Turn null into [] and a lone string or object into a one-item list (schema drift)."""
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    return value
