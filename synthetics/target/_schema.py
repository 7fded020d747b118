"""Each target key declared once, as Synapse's config code declares each option once.

A section is a frozen dataclass made with `@section`; each of its keys is a field made with
`option(check, default=..., doc=...)`. Everything else is derived from those fields: the keys a
section allows, the ones it requires (no default), the key path in each error (the section's path
and the field's name) and the value of an absent key (the field's default, applied by the
dataclass itself). Nothing here knows any particular key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, dataclass_transform, overload

from synthetics.target._reader import Reader, join

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "Check",
    "Nested",
    "Option",
    "default_of",
    "describe",
    "given_keys",
    "nested",
    "option",
    "read_section",
    "read_values",
    "section",
]

T = TypeVar("T")
C = TypeVar("C")
S = TypeVar("S", bound="DataclassInstance")

Check = Callable[[Reader, Any, str], T]
"""(reader, the value as YAML gave it, its key path) -> the typed value; raises `reader.fail(...)`."""

_METADATA_KEY = "synthetics.target.option"


@dataclass(frozen=True)
class Option(Generic[T]):
    """What a field's metadata says about its key: how to read it, and what it is for."""

    check: Check[T]
    doc: str


@overload
def option(check: Check[T], *, doc: str) -> T: ...
@overload
def option(check: Check[T], *, default: T, doc: str) -> T: ...
@overload
def option(check: Check[T], *, default_factory: Callable[[], T], doc: str) -> T: ...
def option(check: Check[Any], *, default: Any = MISSING, default_factory: Any = MISSING, doc: str) -> Any:
    """A target key: without a default it is required; `doc` is what the key means, for people."""
    return field(default=default, default_factory=default_factory, metadata={_METADATA_KEY: Option(check, doc)})


# Keyword-only so required and optional keys can be declared in the order a person reads the file
# (a positional dataclass would force every required key first); nothing constructs them by position.
@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(option, field))
def section(cls: type[C]) -> type[C]:
    """A target section: a frozen, keyword-only dataclass whose `option` fields are its keys."""
    return dataclass(frozen=True, kw_only=True)(cls)


def _options(cls: type[DataclassInstance]) -> Iterator[tuple[Field[Any], Option[Any]]]:
    for each in fields(cls):
        declared = each.metadata.get(_METADATA_KEY)
        if declared is not None:
            yield each, declared


def _has_default(declared: Field[Any]) -> bool:
    return declared.default is not MISSING or declared.default_factory is not MISSING


def _null_is_absent(declared: Field[Any]) -> bool:
    """Whether `key: null` means "not given" (so the default applies).

    Yes where the default is "nothing" or a section or collection (`ca_bundle: null`, `aws: null`,
    `nameservers: null`); no where it is a concrete scalar (a number, a flag, a name), as a null there
    reads like a value lost in editing, so the key's check refuses it.
    """
    if declared.default_factory is not MISSING:
        return True
    value = declared.default
    return value is None or isinstance(value, tuple | Mapping) or is_dataclass(value)


def read_values(
    reader: Reader, cls: type[DataclassInstance], data: Mapping[str, Any], path: str, names: Iterable[str] | None = None
) -> dict[str, Any]:
    """The given keys of `cls` (all of them, or `names`), read by their checks; absent keys are left
    out so the dataclass's own defaults fill them."""
    wanted = None if names is None else set(names)
    values: dict[str, Any] = {}
    for declared, declaration in _options(cls):
        name = declared.name
        if wanted is not None and name not in wanted:
            continue
        if name not in data or (data[name] is None and _null_is_absent(declared)):
            continue
        values[name] = declaration.check(reader, data[name], join(path, name))
    return values


def default_of(cls: type[DataclassInstance], name: str) -> Any:
    """The value key `name` of `cls` has when the file does not give it."""
    declared = next(each for each, _ in _options(cls) if each.name == name)
    if declared.default_factory is not MISSING:
        return declared.default_factory()
    if declared.default is MISSING:
        raise LookupError(f"{cls.__name__}.{name} is required, so it has no default")
    return declared.default


def given_keys(reader: Reader, cls: type[DataclassInstance], data: Any, path: str) -> dict[str, Any]:
    """`data` checked against the keys `cls` declares: a mapping, no unknown key, every required one."""
    declared = list(_options(cls))
    allowed = [each.name for each, _ in declared]
    required = [each.name for each, _ in declared if not _has_default(each)]
    return reader.section(data, path, allowed, required)


def read_section(reader: Reader, cls: type[S], data: Any, path: str) -> S:
    given = given_keys(reader, cls, data, path)
    return cls(**read_values(reader, cls, given, path))


@dataclass(frozen=True)
class Nested(Generic[S]):
    """The check of a key that holds a whole section; `rule` checks the section's keys together."""

    cls: type[S]
    rule: Callable[[Reader, S, str], None] | None = None

    def __call__(self, reader: Reader, value: Any, path: str) -> S:
        parsed = read_section(reader, self.cls, value, path)
        if self.rule is not None:
            self.rule(reader, parsed, path)
        return parsed


def nested(cls: type[S], rule: Callable[[Reader, S, str], None] | None = None) -> Nested[S]:
    return Nested(cls, rule)


def describe(cls: type[DataclassInstance], path: str = "") -> Iterator[tuple[str, bool, str]]:
    """(key path, required, doc) for every key `cls` declares, sections before their own keys."""
    for declared, declaration in _options(cls):
        key_path = join(path, declared.name)
        yield key_path, not _has_default(declared), declaration.doc
        if isinstance(declaration.check, Nested):
            yield from describe(declaration.check.cls, key_path)
