"""The SQL of one generated value: a type's value for a value number ``k``.

Every mapping is integer arithmetic or one hash on ``k`` (no per-row float or ``now()``):
numbers and times rise with ``k`` or are scrambled by a multiplication modulo ``D``; text
is ``to_hex`` of a hash cut to the column's width (``md5`` cost ten times as much).
"""

from __future__ import annotations

import datetime as dt
import math

from advisor.verify.load import TargetColumn

__all__ = ["value_sql"]

_TEXT_WIDTH = 12
_TIME_SPAN_S = 3 * 365 * 86_400  # timestamps spread over the three years up to now
_DATE_SPAN = 3 * 365 + 1
_TEXT_SEED = 7


def _date(unix_seconds: int) -> str:
    return dt.datetime.fromtimestamp(unix_seconds, dt.UTC).date().isoformat()


def _char_limit(col: TargetColumn) -> int | None:
    if col.base in ("varchar", "bpchar") and col.typmod > 4:
        return col.typmod - 4
    return None


def _text(col: TargetColumn, k: str, *, unique: bool, rows: int, width: int | None) -> str:
    limit = _char_limit(col)
    w = max(1, (width or _TEXT_WIDTH + 1) - 1)  # avg_width counts the 1-byte header
    if unique:
        w = max(w, len(str(rows)) + 1)
    if limit is not None:
        w = min(w, limit)
    # to_hex of a hash: random-looking text at a tenth of md5's cost
    pad = f"repeat(to_hex(hashint8extended(({k}), {_TEXT_SEED})), {math.ceil(w / 16) + 1})"
    body = f"({k})::text || '-' || {pad}" if unique else pad
    return f"left({body}, {w})"


def _numeric(col: TargetColumn, k: str, *, unique: bool) -> str:
    precision, scale = 12, 2
    if col.typmod > 4:
        precision, scale = ((col.typmod - 4) >> 16) & 0xFFFF, (col.typmod - 4) & 0xFFFF
    if unique:
        return f"(({k})::numeric)"
    modulus = 10 ** min(precision, 9)
    return f"round(((({k}) * 7919) % {modulus})::numeric / {10**scale}, {scale})"


def _spread(k: str, distinct: int, span: int, ordered: bool = False) -> str:
    """Value number ``k`` of ``distinct`` spread evenly, in scrambled order, over 0..span
    (integer arithmetic: a float ``floor`` per row cost three times as much); ``ordered``:
    falling with ``k`` (an offset back from now, so that the time rises)."""
    distinct = max(1, distinct)
    if ordered:
        return f"(({distinct} - ({k})) * {span} / {distinct})"
    prime = 7919 if distinct % 7919 else 7927
    return f"(((({k}) * {prime}) % {distinct}) * {span} / {distinct})"


def value_sql(
    col: TargetColumn,
    k: str,
    *,
    unique: bool,
    rows: int,
    width: int | None,
    salt: int,
    distinct: int | None = None,
    anchor: int = 0,
    ordered: bool = False,
) -> str | None:
    """The SQL of ``col``'s value for value number ``k`` in ``1..distinct`` (None: a type
    advisor cannot make); ``unique`` when ``k`` is the row number itself. Times end at
    ``anchor`` (Unix seconds; the time the plan was made). ``ordered``: values rise with
    ``k`` (numbers, times, dates) instead of being scrambled."""
    distinct = distinct or rows
    base = col.base
    simple = {
        "int2": f"((({k}) - 1) % 32767 + 1)::int2",
        "int4": f"(({k}) % 2147483647)::int4",
        "int8": f"({k})::int8",
        "float4": f"(({k}) * 1.37)::float4",
        "float8": f"(({k}) * 1.37)::float8",
        "bool": f"(({k}) % 2 = 0)",
        "uuid": f"md5(({k})::text || '{salt}')::uuid",
        "bytea": f"decode(md5(({k})::text), 'hex')",
        "inet": f"('10.0.0.0'::inet + ({k}))",
        "jsonb": f"jsonb_build_object('id', ({k}), 'tag', md5(({k})::text))",
        "json": f"json_build_object('id', ({k}), 'tag', md5(({k})::text))",
        "interval": f"((({k}) % 100000) * interval '1 minute')",
        "money": f"((({k}) % 100000)::numeric / 100)::money",
    }
    if col.typtype == "e" and col.labels:
        labels = ", ".join("'" + label.replace("'", "''") + "'" for label in col.labels)
        return f"((ARRAY[{labels}])[1 + (({k}) - 1) % {len(col.labels)}])::{col.type}"
    if base in simple:
        return simple[base]
    if base in ("text", "varchar", "bpchar", "name", "citext"):
        return _text(col, k, unique=unique, rows=rows, width=width)
    if base == "numeric":
        return _numeric(col, k, unique=unique or ordered)
    offset = _spread(k, distinct, _TIME_SPAN_S, ordered) if not unique else f"({k})"
    if base == "timestamptz":
        return f"to_timestamp({anchor} - {offset})"
    if base == "timestamp":
        return f"(to_timestamp({anchor} - {offset}) AT TIME ZONE 'UTC')"
    if base == "date":
        days = _spread(k, distinct, _DATE_SPAN, ordered) if not unique else f"({k})"
        return f"(date '{_date(anchor)}' - ({days})::int)"
    if base == "time":
        return f"(time '00:00' + ((({k}) * 7919) % 86400) * interval '1 second')"
    return None
