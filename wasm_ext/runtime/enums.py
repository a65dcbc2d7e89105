"""``CEnum``: the base of the ``IntEnum`` classes a stub makes of the C enums its kernels use.

C lets an enum variable hold any value of its type, not only its enumerators (flags,
values a newer library version added), so a result or out-value outside the members
must not raise: it comes back as a nameless member of the class, equal to its int, as
``IntFlag`` does with unknown bits. Members print as their value, on every Python (as
``IntEnum`` does from 3.11).
"""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any


class CEnum(enum.IntEnum):
    """An ``IntEnum`` that takes any int: values outside the members are kept, without a name."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int):
            return None
        member = int.__new__(cls, value)
        member._name_ = None  # type: ignore[assignment]
        member._value_ = value
        return member

    def __repr__(self) -> str:
        name = self._name_
        return f"<{type(self).__name__}.{name}: {int(self)}>" if name else f"<{type(self).__name__}: {int(self)}>"

    __str__ = int.__repr__
