"""Strict JSON for untrusted bodies: one meaning per document, or a rejection.

Python's ``json`` is lenient where an attacker profits: it accepts ``NaN``/``Infinity``, keeps
the last of duplicate keys (two parsers may disagree on ``userId``: a spoofing vector), decodes
lone surrogates, and recurses until ``RecursionError``. This parser rejects each of those with its
own code (docs/reliability.md H1, H2, H7-H10). Lone surrogates are caught later, when orjson encodes
the record for Kafka (it refuses them), so the check costs nothing here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from leadgate.http.rejection import RejectCode, Rejection

MAX_INT_DIGITS = 20  # beyond 64-bit integers: no tracking property needs more


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise Rejection(RejectCode.DUPLICATE_KEY)
    return obj


def _constant(_name: str) -> Any:
    raise Rejection(RejectCode.INVALID_NUMBER)


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise Rejection(RejectCode.INVALID_NUMBER)
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise Rejection(RejectCode.INVALID_NUMBER)
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_integer, parse_float=_float
)


def loads_strict(raw: bytes) -> Any:
    """Parse ``raw`` as strict UTF-8 JSON; raise :class:`Rejection` with the reason otherwise.

    Pathological nesting (100 000 brackets) ends in ``RecursionError`` inside the C scanner and
    is refused here; the tighter per-event depth limit is checked with the event's other bounds
    (:mod:`leadgate.http.events`), where a batch can refuse one event rather than all.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejection(RejectCode.INVALID_ENCODING) from None
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise Rejection(RejectCode.TOO_DEEP) from None
    except ValueError:  # JSONDecodeError, and int() beyond sys.int_info's digit limit
        raise Rejection(RejectCode.INVALID_JSON) from None
    return value
