"""Argument checks shared by every module, producing the one error template
``"{owner}: {name} must be {constraint} [{unit}], got {value!r}."``."""

from __future__ import annotations

from enum import Enum

__all__ = ["check_option"]


def check_option(owner: str, name: str, value: object, cls: type[Enum]) -> None:
    """Raise ``ValueError`` unless ``value`` is a member of the Enum ``cls``."""
    if not isinstance(value, cls):
        options = ", ".join(f"{cls.__name__}.{m.name}" for m in cls)
        raise ValueError(f"{owner}: {name} must be one of {options}, got {value!r}.")
