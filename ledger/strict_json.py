"""JSON read strictly, for files whose meaning must be one: a genesis, a proof.

Specification: RFC 8259, refusing what it leaves to the reader: a name repeated in one object
(§4: "names within an object SHOULD be unique"; two parsers may keep different copies) and the
non-numbers NaN, Infinity and -Infinity that Python's reader accepts beyond the grammar (§6).
"""
from __future__ import annotations

import json


class RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(f"the field {key!r} appears twice")
        self.key = key


class NotANumber(ValueError):
    def __init__(self, name: str):
        super().__init__(f"{name} is not a JSON number")
        self.name = name


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise RepeatedKey(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> None:
    raise NotANumber(name)


def loads(text: str) -> object:
    """json.loads, but a repeated key raises RepeatedKey and NaN/Infinity raise NotANumber (both
    ValueError, as is json.JSONDecodeError); deep nesting raises RecursionError."""
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
