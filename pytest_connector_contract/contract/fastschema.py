"""A yes/no JSON Schema check for the small schemas the checks apply to every answer, without jsonschema.

Importing jsonschema (with referencing, rpds and attrs) costs more than everything else the suite imports of
its own, in every process that runs checks, xdist workers included (docs/performance.md). The schemas the
checks use need a handful of keywords, so :func:`compile_schema` turns such a schema into a predicate, and
:mod:`.schemas` asks jsonschema only when the predicate says no, for its exact messages. The predicate may
only err on the side of "no": a "yes" it gives must be one jsonschema gives too (tests/test_fastschema.py
compares the two). A schema with any keyword outside :data:`SUPPORTED` is not compiled (None), and
jsonschema handles it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SUPPORTED", "Predicate", "compile_schema"]

Predicate = Callable[[Any], bool]

#: keywords the predicate understands; annotations are ignored, as validation ignores them
SUPPORTED = frozenset(
    {"type", "required", "properties", "enum", "minLength", "minimum", "maximum", "minItems", "items"}
    | {"$ref", "oneOf", "not"}
    | {"$schema", "$id", "$defs", "title", "description", "$comment"}
)

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true and 1 differ (Python's == says they are equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b if isinstance(a, str) or isinstance(b, str) else a == b


class _Unsupported(Exception):
    pass


def compile_schema(schema: Mapping[str, Any]) -> Predicate | None:
    """A predicate ``instance -> valid?`` for ``schema``, or None when it uses what the predicate cannot do."""
    defs = schema.get("$defs", {})
    compiled: dict[str, Predicate] = {}

    def ref(target: str) -> Predicate:
        prefix = "#/$defs/"
        if not target.startswith(prefix) or target[len(prefix) :] not in defs:
            raise _Unsupported(target)
        name = target[len(prefix) :]
        if name not in compiled:
            compiled[name] = lambda v: False  # placeholder while compiling a recursive definition
            body = build(defs[name])
            compiled[name] = body
        return lambda v: compiled[name](v)

    def build(node: Any) -> Predicate:
        if node is True:
            return lambda v: True
        if not isinstance(node, Mapping) or set(node) - SUPPORTED:
            raise _Unsupported(node)
        tests: list[Predicate] = []
        if "$ref" in node:
            tests.append(ref(node["$ref"]))
        if "type" in node:
            names = node["type"] if isinstance(node["type"], list) else [node["type"]]
            if any(name not in _TYPES for name in names):
                raise _Unsupported(names)
            kinds = [_TYPES[name] for name in names]
            tests.append(lambda v: any(kind(v) for kind in kinds))
        if "enum" in node:
            options = list(node["enum"])
            tests.append(lambda v: any(_equal(v, option) for option in options))
        if "required" in node:
            needed = list(node["required"])
            tests.append(lambda v: not isinstance(v, dict) or all(key in v for key in needed))
        if "properties" in node:
            props = {key: build(sub) for key, sub in node["properties"].items()}
            tests.append(lambda v: not isinstance(v, dict) or all(p(v[k]) for k, p in props.items() if k in v))
        if "minLength" in node:
            low = node["minLength"]
            tests.append(lambda v: not isinstance(v, str) or len(v) >= low)
        if "minimum" in node:
            minimum = node["minimum"]
            tests.append(lambda v: not _TYPES["number"](v) or v >= minimum)
        if "maximum" in node:
            maximum = node["maximum"]
            tests.append(lambda v: not _TYPES["number"](v) or v <= maximum)
        if "minItems" in node:
            count = node["minItems"]
            tests.append(lambda v: not isinstance(v, list) or len(v) >= count)
        if "items" in node:
            item = build(node["items"])
            tests.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
        if "oneOf" in node:
            branches = [build(sub) for sub in node["oneOf"]]
            tests.append(lambda v: sum(1 for branch in branches if branch(v)) == 1)
        if "not" in node:
            negated = build(node["not"])
            tests.append(lambda v: not negated(v))
        return lambda v: all(test(v) for test in tests)

    try:
        return build(schema)
    except _Unsupported:
        return None
