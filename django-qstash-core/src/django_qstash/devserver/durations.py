"""Durations, retry backoff, ``Retry-After`` and ``Upstash-Retry-Delay``, as QStash reads them."""

from __future__ import annotations

import ast
import email.utils
import math
import operator
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

DAY_SECONDS = 86_400

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86_400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")


class InvalidValue(ValueError):
    """A header value QStash would refuse with 400; the message says which and why."""


def parse_duration(value: str, *, name: str = "duration") -> float:
    """Seconds from ``"10s"``, ``"1d10h30m"``, ``"500ms"`` or a bare number of seconds."""
    text = value.strip()
    if not text:
        raise InvalidValue(f"{name} is empty")
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds < 0 or math.isnan(seconds) or math.isinf(seconds):
            raise InvalidValue(f"{name} must not be negative: {value!r}")
        return seconds
    position = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise InvalidValue(
            f"invalid {name} {value!r}: use a number followed by s, m, h or d, e.g. 10s or 1d10h"
        )
    return total


def default_backoff(retry_number: int) -> float:
    """QStash's default delay before retry ``n`` (1, 2, ...): ``min(1 day, e^(2.5 n))`` seconds."""
    exponent = 2.5 * retry_number
    if exponent > math.log(DAY_SECONDS):
        return float(DAY_SECONDS)
    return min(float(DAY_SECONDS), math.exp(exponent))


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a failed response asks for, from the headers QStash honours, if usable."""
    for name in ("retry-after", "x-ratelimit-reset", "x-ratelimit-reset-requests"):
        raw = headers.get(name)
        if raw is not None:
            break
    else:
        raw = headers.get("x-ratelimit-reset-tokens")
    if raw is None:
        return None
    raw = raw.strip()
    seconds: float | None
    try:
        seconds = parse_duration(raw)
    except InvalidValue:
        seconds = None
    if seconds is None:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
    # Beyond a day the normal backoff applies (documented by QStash).
    return seconds if seconds <= DAY_SECONDS else None


# ------------------------------------------------------------------------ Upstash-Retry-Delay

_FUNCTIONS: dict[str, Callable[..., float]] = {
    "pow": math.pow,
    "sqrt": math.sqrt,
    "abs": abs,
    "exp": math.exp,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
    "min": min,
    "max": max,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


class RetryDelayExpression:
    """A parsed ``Upstash-Retry-Delay`` expression: milliseconds as a function of ``retried``.

    Evaluated on a whitelist of AST nodes (numbers, ``retried``, + - * / % and the functions
    QStash documents), never with ``eval``.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError:
            raise InvalidValue(f"invalid retry delay expression {source!r}") from None
        self._check(tree.body)
        self._tree = tree.body

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return
        if isinstance(node, ast.Name) and node.id == "retried":
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand)
            return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            for arg in node.args:
                self._check(arg)
            return
        raise InvalidValue(
            f"invalid retry delay expression {self.source!r}: only numbers, `retried`, "
            "+ - * / % and pow, sqrt, abs, exp, floor, ceil, round, min, max are allowed"
        )

    def milliseconds(self, retried: int) -> float:
        try:
            value = float(self._evaluate(self._tree, retried))
        except (ArithmeticError, ValueError, TypeError):
            return 0.0
        if math.isnan(value) or value < 0:
            return 0.0
        return min(value, DAY_SECONDS * 1000.0)

    def _evaluate(self, node: ast.AST, retried: int) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return retried
        if isinstance(node, ast.BinOp):
            left = self._evaluate(node.left, retried)
            right = self._evaluate(node.right, retried)
            if isinstance(node.op, ast.Pow) and abs(right) > 1024:
                raise OverflowError
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._evaluate(node.operand, retried))
        assert isinstance(node, ast.Call)
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(self._evaluate(arg, retried) for arg in node.args))
