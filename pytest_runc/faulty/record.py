"""``dataclass(frozen=True)`` for the faulty runtimes' records (``Call``, ``Fault``,
``Tolerance``) without importing ``dataclasses``.

Every call of a faulty runtime is a new Python, and ``dataclasses`` imports
``inspect`` (with ``ast``, ``dis``, ``tokenize`` ...): about a tenth of that
start-up. The modules import this decorator at run time and the standard one
for type checkers (under ``TYPE_CHECKING``), which check the classes as
dataclasses. What it makes: ``__init__`` (positional or keyword, defaults),
``__eq__`` and ``__hash__`` over the fields, a dataclass's ``__repr__``,
``__match_args__``, and no assignment to the fields once made.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing's, which a wrapper call need not import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    _Class = TypeVar("_Class", bound=type)


class FrozenInstanceError(AttributeError):
    """A field of a frozen record assigned or deleted (``dataclasses`` has its own)."""


def dataclass(*, frozen: bool) -> Callable[[_Class], _Class]:
    """The decorator: fields are the class's annotated names, in order; a class
    attribute of that name is its default."""
    if not frozen:
        raise TypeError("only frozen records are made here")
    return _frozen


def _frozen(cls: _Class) -> _Class:
    # The class's own annotations, read as dataclasses reads them.
    names = tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    for before, after in zip(names, names[1:]):
        if before in defaults and after not in defaults:
            raise TypeError(f"non-default argument {after!r} follows default argument")
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(
                f"{qualname}.__init__() takes {len(names) + 1} positional arguments"
                f" but {len(args) + 1} were given"
            )
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(
                    f"{qualname}.__init__() got an unexpected keyword argument {name!r}"
                )
            if name in values:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
            values[name] = value
        missing = [name for name in names if name not in values and name not in defaults]
        if missing:
            raise TypeError(f"{qualname}.__init__() missing required arguments: {missing!r}")
        for name in names:
            object.__setattr__(self, name, values[name] if name in values else defaults[name])

    def fields(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(fields(self) == fields(other))

    def __hash__(self: Any) -> int:
        return hash(fields(self))

    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self: Any, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    for method in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__):
        method.__qualname__ = f"{qualname}.{method.__name__}"
        setattr(cls, method.__name__, method)
    setattr(cls, "__match_args__", names)  # noqa: B010 (a class attribute mypy would refuse)
    return cls
