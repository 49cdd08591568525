"""Statement parameters: redacted to a shape, or kept as JSON on request.

``params_shape`` keeps types and list lengths (``(int, list[3])``); the hash that keeps
identity without the values is :func:`advisor.capture.encode.params_hash`.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["params_shape", "to_json_value"]


_NAMES: dict[type, str] = {
    int: "int",
    str: "str",
    float: "float",
    bool: "bool",
    type(None): "null",
    bytes: "bytes",
    dict: "dict",
    datetime.datetime: "datetime",
    datetime.date: "date",
    decimal.Decimal: "Decimal",
    uuid.UUID: "UUID",
}


def _type_name(value: Any) -> str:
    name = _NAMES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, (list, tuple)):
        return f"list[{len(value)}]"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _one_shape(params: Any) -> str:
    if isinstance(params, Mapping):
        return "(" + ", ".join(f"{k}={_type_name(v)}" for k, v in params.items()) + ")"
    if isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        return "(" + ", ".join(_type_name(v) for v in params) + ")"
    return f"({_type_name(params)})"


def params_shape(params: Any, executemany: bool = False) -> str | None:
    """Types and list lengths; for executemany ``N*(shape of the first row)``."""
    if params is None:
        return None
    if executemany and isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        first = _one_shape(params[0]) if len(params) else "()"
        return f"{len(params)}*{first}"
    return _one_shape(params)


def to_json_value(value: Any) -> Any:
    """``value`` as something ``json.dumps`` accepts (for ``keep_params``)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    return repr(value)
