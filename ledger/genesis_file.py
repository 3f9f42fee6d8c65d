"""The genesis JSON file an operator writes by hand (or with `ledger genesis`), read strictly.

Implements the JSON form of the genesis of docs/FORMAT.md §3 (JSON per RFC 8259). The canonical
genesis bytes are msgpack; this file is only the operator's way of writing them, so the reader is
strict: a typo must not silently become a different chain. Every field is checked by name, and
each fault is one sentence naming the field:

    {"version": int, "name": str, "time_ms": int, "validators": [hex], "issuers": [hex], "balances": {hex: int}}

- `name`, `time_ms` and `validators` are required; `issuers` and `balances` may be left out
  (empty); `version` is the chain format (docs/FORMAT.md §4): 1 or 2, and 2 when left out, as for
  new chains (`make_genesis`); `ledger genesis` always writes it, and so does the `genesis` object
  of `ledger info --json`, which reads back as the same chain.
- Numbers are JSON integers: no strings, booleans, fractions, exponents or NaN.
- Keys are 32-byte public keys as 64 hex digits; a key may not be listed twice.
- Unknown keys (a misspelling) and duplicate object keys are errors.
"""
from __future__ import annotations

import difflib
import json
import re

from ledger import limits, strict_json
from ledger.codec import Genesis, make_genesis
from ledger.errors import BAD_GENESIS, LIMIT_EXCEEDED, LedgerError

REQUIRED_FIELDS = ("name", "time_ms", "validators")
OPTIONAL_FIELDS = ("version", "issuers", "balances")
FIELDS = ("version",) + REQUIRED_FIELDS + OPTIONAL_FIELDS[1:]

# What `ledger genesis` writes where a key is still to be filled in; init names it when it is left.
PLACEHOLDER_PREFIX = "REPLACE-WITH-"
VALIDATOR_PLACEHOLDER = PLACEHOLDER_PREFIX + "VALIDATOR-PUBLIC-KEY-HEX"

_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


def _fail(message: str) -> LedgerError:
    return LedgerError(BAD_GENESIS, message)


def _quoted(text: str) -> str:
    """Text from the file, quoted and escaped as JSON, so an error stays one line whatever it holds."""
    return json.dumps(text)


def _over_limit(message: str) -> LedgerError:
    """A named limit of docs/FORMAT.md §10: the same code the genesis decoder gives."""
    return LedgerError(LIMIT_EXCEEDED, message)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an integer"


def _uint(value: object, field: str, maximum: int) -> int:
    # bool is a subclass of int in Python; JSON true is not a number.
    if type(value) is not int:
        raise _fail(f'"{field}" must be an integer, not {_type_name(value)}')
    if not 0 <= value <= maximum:
        raise _fail(f'"{field}" must be an integer from 0 to {maximum}, not {value}')
    return value


def _key(value: object, subject: str) -> bytes:
    if isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX):
        raise _fail(f"{subject} is still the template placeholder: put a public key there "
                    "(64 hex digits, as `ledger pubkey KEYFILE --hex` prints)")
    if not isinstance(value, str) or not _HEX_KEY.fullmatch(value):
        shown = _type_name(value) if not isinstance(value, str) else _quoted(value[:80])
        raise _fail(f"{subject} must be a public key as 64 hex digits, not {shown}")
    return bytes.fromhex(value)


def _key_list(spec: dict, field: str, maximum: int) -> list[bytes]:
    value = spec.get(field, [])
    if not isinstance(value, list):
        raise _fail(f'"{field}" must be an array of public keys (hex), not {_type_name(value)}')
    if len(value) > maximum:
        raise _over_limit(f'"{field}" lists {len(value)} keys; a genesis has at most {maximum}')
    keys = [_key(item, f'"{field}[{index}]"') for index, item in enumerate(value)]
    seen: dict[bytes, int] = {}
    for index, key in enumerate(keys):
        if key in seen:
            raise _fail(f'"{field}[{index}]" repeats the key of "{field}[{seen[key]}]"')
        seen[key] = index
    return keys


def _balances(spec: dict) -> dict[bytes, int]:
    value = spec.get("balances", {})
    if not isinstance(value, dict):
        raise _fail(f'"balances" must be an object of public key (hex) to amount, not {_type_name(value)}')
    if len(value) > limits.GENESIS_BALANCES_MAX:
        raise _over_limit(f'"balances" has {len(value)} entries; a genesis has at most {limits.GENESIS_BALANCES_MAX}')
    result: dict[bytes, int] = {}
    spelled: dict[bytes, str] = {}
    for text, amount in value.items():
        key = _key(text, 'a key of "balances"')
        if key in result:
            raise _fail(f'"balances" gives the key {text} twice (once as {spelled[key]})')
        result[key] = _uint(amount, f"balances.{text}", limits.AMOUNT_MAX)
        spelled[key] = text
    return result


def parse_genesis_json(data: bytes | str) -> Genesis:
    """The genesis a JSON file describes; LedgerError(bad-genesis) naming the field otherwise."""
    try:
        # utf-8-sig: a byte order mark, which some editors write, is allowed (RFC 8259 §8.1).
        text = data.decode("utf-8-sig") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as exc:
        raise _fail(f"the genesis file is not UTF-8 text (byte {exc.start})") from None
    try:
        spec = strict_json.loads(text)
    except strict_json.RepeatedKey as exc:
        raise _fail(f"the genesis JSON gives the key {_quoted(exc.key)} twice in one object") from None
    except strict_json.NotANumber as exc:
        raise _fail(f"the genesis JSON holds {exc.name}, which is not a number a genesis can use") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"the genesis file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise _fail("the genesis JSON is nested too deeply") from None
    if not isinstance(spec, dict):
        raise _fail(f"the genesis JSON must be an object with the fields {', '.join(FIELDS)}, "
                    f"not {_type_name(spec)}")
    for field in spec:
        if field not in FIELDS:
            near = difflib.get_close_matches(field, FIELDS, n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else f" (the fields are {', '.join(FIELDS)})"
            raise _fail(f'the genesis JSON has an unknown field {_quoted(field)}{hint}')
    for field in REQUIRED_FIELDS:
        if field not in spec:
            why = {"time_ms": " (the genesis time in milliseconds since 1970; it is part of the chain id, "
                              "so it is never taken from the clock)",
                   "validators": " (the public keys, as hex, allowed to sign blocks)",
                   "name": " (the chain's name; it may be \"\")"}[field]
            raise _fail(f'the genesis JSON has no "{field}"{why}')
    version = limits.DEFAULT_FORMAT_VERSION
    if "version" in spec:
        version = _uint(spec["version"], "version", 2**64 - 1)
        if version not in limits.FORMAT_VERSIONS:
            raise _fail(f'"version" must be 1 or 2 (the chain format; 2 for a new chain), not {version}')
    name = spec["name"]
    if not isinstance(name, str):
        raise _fail(f'"name" must be a string, not {_type_name(name)}')
    if len(name.encode("utf-8", "surrogatepass")) > limits.CHAIN_NAME_BYTES_MAX:
        raise _over_limit(f'"name" is longer than {limits.CHAIN_NAME_BYTES_MAX} bytes of UTF-8')
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail('"name" holds a lone surrogate escape, which is not UTF-8 text') from None
    time_ms = _uint(spec["time_ms"], "time_ms", limits.TIME_MS_MAX)
    validators = _key_list(spec, "validators", limits.VALIDATORS_MAX)
    if not validators:
        raise _fail('"validators" is empty: a genesis needs at least one validator')
    issuers = _key_list(spec, "issuers", limits.ISSUERS_MAX)
    balances = _balances(spec)
    return make_genesis(name, time_ms, validators, issuers, balances, version=version)


def genesis_spec(name: str, time_ms: int, validators: list[str], issuers: list[str],
                 balances: dict[str, int], version: int = limits.DEFAULT_FORMAT_VERSION) -> dict:
    """The JSON object, fields in the order README documents, that `parse_genesis_json` reads."""
    return {"version": version, "name": name, "time_ms": time_ms, "validators": validators, "issuers": issuers,
            "balances": balances}
