"""A small subset of CEL for CRD `x-kubernetes-validations` rules.

Supported: `self` and field access, `has(self.f)`, `size(x)` / `x.size()`, literals (int, float,
string, bool, null, lists), `! - * / % + < <= > >= == != in && || ?:`, `x.startsWith(s)`,
`x.endsWith(s)`, `x.contains(s)`, `x.matches(re)`, `l.all(v, e)`, `l.exists(v, e)`. A rule using
anything else raises `Unsupported`; the caller then skips the rule (and says so in its docs) rather
than guessing. `oldSelf` (transition rules) is not supported.

Exception tree::

    Exception
     └── Unsupported      the rule uses CEL this evaluator does not implement
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d+|\d+)|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!().,\[\]?:])|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
MISSING = object()


class Unsupported(Exception):
    pass


def tokenize(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise Unsupported(f"cannot read {text[pos:]!r}")
        out.append(m.group().strip())
        pos = m.end()
    return [t for t in out if t]


class _Parser:
    """Recursive descent; evaluates while parsing (rules are tiny)."""

    def __init__(self, tokens: list[str], env: dict[str, Any]) -> None:
        self.t, self.i, self.env = tokens, 0, env

    def peek(self) -> str:
        return self.t[self.i] if self.i < len(self.t) else ""

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if want is not None and tok != want:
            raise Unsupported(f"expected {want!r}, found {tok!r}")
        self.i += 1
        return tok

    def expr(self) -> Any:
        cond = self.or_()
        if self.peek() == "?":
            self.take()
            a = self.expr()
            self.take(":")
            b = self.expr()
            return a if cond else b
        return cond

    def _binary(self, ops: dict[str, Callable[[Any, Any], Any]], sub: Callable[[], Any]) -> Any:
        left = sub()
        while self.peek() in ops:
            op = self.take()
            right = sub()
            left = ops[op](left, right)
        return left

    def or_(self) -> Any:
        return self._binary({"||": lambda a, b: bool(a) or bool(b)}, self.and_)

    def and_(self) -> Any:
        return self._binary({"&&": lambda a, b: bool(a) and bool(b)}, self.cmp)

    def cmp(self) -> Any:
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
            "in": lambda a, b: a in b,
        }  # fmt: skip
        return self._binary(ops, self.add)

    def add(self) -> Any:
        return self._binary({"+": lambda a, b: a + b, "-": lambda a, b: a - b}, self.mul)

    def mul(self) -> Any:
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "*": lambda a, b: a * b, "/": lambda a, b: a // b if isinstance(a, int) else a / b,
            "%": lambda a, b: a % b,
        }  # fmt: skip
        return self._binary(ops, self.unary)

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.postfix(self.primary())

    def primary(self) -> Any:  # noqa: PLR0911
        tok = self.take()
        if tok == "(":
            value = self.expr()
            self.take(")")
            return value
        if tok == "[":
            items = []
            while self.peek() != "]":
                items.append(self.expr())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return items
        if tok[:1] in "\"'":
            return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
        if tok[:1].isdigit():
            return float(tok) if "." in tok else int(tok)
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "null":
            return None
        if tok == "has":
            return self.has()
        if tok == "size":
            self.take("(")
            value = self.expr()
            self.take(")")
            return len(value)
        if tok in self.env:
            return self.env[tok]
        raise Unsupported(f"unknown name {tok!r}")

    def has(self) -> bool:
        self.take("(")
        target = self.postfix(self.primary(), stop_before_last_field=True)
        self.take(".")
        field = self.take()
        self.take(")")
        return isinstance(target, dict) and field in target

    def postfix(self, value: Any, stop_before_last_field: bool = False) -> Any:
        while self.peek() in (".", "["):
            if self.take() == "[":
                key = self.expr()
                self.take("]")
                value = value[key]
                continue
            name = self.peek()
            if stop_before_last_field and self.t[self.i + 1 : self.i + 2] == [")"]:
                self.i -= 1
                return value
            self.take()
            if self.peek() == "(":
                value = self.method(value, name)
            elif isinstance(value, dict) and name in value:
                value = value[name]
            else:
                raise Unsupported(f"no such key: {name}")
        return value

    def method(self, value: Any, name: str) -> Any:
        self.take("(")
        if name in ("all", "exists"):
            var = self.take()
            self.take(",")
            start, depth, end = self.i, 0, self.i
            while end < len(self.t) and not (self.t[end] == ")" and depth == 0):
                depth += {"(": 1, ")": -1}.get(self.t[end], 0)
                end += 1
            body = self.t[start:end]
            results = [bool(_Parser(body, {**self.env, var: item}).expr()) for item in value]
            self.i = end
            self.take(")")
            return all(results) if name == "all" else any(results)
        args = []
        while self.peek() != ")":
            args.append(self.expr())
            if self.peek() == ",":
                self.take()
        self.take(")")
        funcs: dict[str, Callable[..., Any]] = {
            "size": lambda: len(value), "startsWith": lambda s: str(value).startswith(s),
            "endsWith": lambda s: str(value).endswith(s), "contains": lambda s: s in value,
            "matches": lambda r: re.search(r, value) is not None,
        }  # fmt: skip
        fn = funcs.get(name)
        if fn is None:
            raise Unsupported(f"unknown method {name}()")
        return fn(*args)


def evaluate(rule: str, value: Any) -> bool:
    """True if `rule` holds for `self = value`; raises Unsupported for CEL outside the subset."""
    parser = _Parser(tokenize(rule), {"self": value})
    try:
        result = parser.expr()
    except (KeyError, IndexError, TypeError):
        raise Unsupported(f"cannot evaluate {rule!r}") from None
    if parser.peek():
        raise Unsupported(f"trailing input in {rule!r}")
    return bool(result)
