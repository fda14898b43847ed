"""The body reader: Elasticsearch's strict ``ObjectParser`` over a Jackson-like JSON tokenizer.

:func:`parse_object` reads a request body the way the connector endpoints' parsers do, down to the wording
and ``[line:column]`` locations of Jackson's and ObjectParser's errors, which it raises as
:class:`~pytest_connector_contract.reference.messages.EsError`. Also here: the few Java behaviours the
parsers rely on (``String.equalsIgnoreCase``, ``Booleans.parseBoolean``, content detection) and the
"did you mean" suggestions of unknown fields and parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_connector_contract.reference.messages import EsError

__all__ = [
    "JACKSON_EOF",
    "START_ARRAY",
    "START_OBJECT",
    "VALUE_BOOLEAN",
    "VALUE_NULL",
    "VALUE_NUMBER",
    "VALUE_STRING",
    "Field",
    "java_equals_ignore_case",
    "looks_like_json",
    "parse_boolean",
    "parse_object",
    "suggest",
]

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z0-9_$]+")

# Jackson token names, as Elasticsearch's ObjectParser prints them.
START_OBJECT = "START_OBJECT"
START_ARRAY = "START_ARRAY"
VALUE_STRING = "VALUE_STRING"
VALUE_NUMBER = "VALUE_NUMBER"
VALUE_BOOLEAN = "VALUE_BOOLEAN"
VALUE_NULL = "VALUE_NULL"


@dataclass(frozen=True)
class Field:
    """One field of a strict request parser: the Jackson tokens it accepts and how its value is read.

    ``convert`` gets the Python value of the token and raises ValueError (message = the cause's reason)
    when the value is refused, which becomes ``failed to parse field [x]`` caused by
    ``illegal_argument_exception``, like Elasticsearch's ObjectParser.
    """

    tokens: frozenset[str]
    convert: Callable[[Any], Any] = lambda value: value


#: ``unknown_field(parser_name, name, fields, location)``: raises for a field the parser does not declare;
#: returning makes the parser skip the field.
UnknownField = Callable[[str, str, Mapping[str, Field], str], None]


def parse_object(
    body: bytes, parser_name: str, fields: Mapping[str, Field], unknown_field: UnknownField
) -> dict[str, Any]:
    """Parse ``body`` like Elasticsearch's strict ObjectParser: one object, fields in order, each
    refused as soon as it is read (unknown name, wrong token type, bad value); duplicate keys and
    non-JSON are Jackson errors; text after the object is ignored; comments are allowed."""
    reader = _Reader(body)
    reader.skip_ws()
    token = reader.value_token()
    if token != START_OBJECT:
        # ObjectParser.throwExpectedStartObject names the parser (libs/x-content ObjectParser.java at 0b4acd4c)
        raise reader.parse_error(f"[{parser_name}] Expected START_OBJECT but was: {token or 'null'}", reader.pos)
    reader.pos += 1
    result: dict[str, Any] = {}
    seen: set[str] = set()
    while True:
        reader.skip_ws()
        if reader.peek() == "}":
            break
        if seen:
            if reader.peek() != ",":
                raise reader.unexpected("was expecting comma to separate Object entries")
            reader.pos += 1
            reader.skip_ws()
        if reader.peek() != '"':
            raise reader.unexpected("was expecting double-quote to start field name")
        key_pos = reader.pos
        key = reader.read_string()
        if key in seen:
            raise reader.json_error(f"Duplicate field '{key}'", key_pos)
        seen.add(key)
        reader.skip_ws()
        if reader.peek() != ":":
            raise reader.unexpected("was expecting a colon to separate field name and value")
        reader.pos += 1
        reader.skip_ws()
        value_pos = reader.pos
        token = reader.value_token()
        if token is None:
            raise reader.eof_error("Unexpected end-of-input within/between Object entries")
        spec = fields.get(key)
        if spec is None:
            unknown_field(parser_name, key, fields, reader.location(key_pos))
            reader.skip_value()
            continue
        if token not in spec.tokens:
            raise reader.parse_error(f"[{parser_name}] {key} doesn't support values of type: {token}", value_pos)
        value = reader.read_scalar(token)
        try:
            result[key] = spec.convert(value)
        except ValueError as exc:
            raise reader.parse_error(
                f"[{parser_name}] failed to parse field [{key}]",
                value_pos,
                {"type": "illegal_argument_exception", "reason": str(exc)},
            ) from None
    return result


class _Reader:
    """A cursor over a request body that produces Jackson-like tokens and errors."""

    def __init__(self, body: bytes) -> None:
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]
        try:
            self.text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.text = body[: exc.start].decode("utf-8")
            self.pos = len(self.text)
            raise self.json_error(f"Invalid UTF-8 start byte 0x{body[exc.start]:02x}", self.pos) from None
        self.pos = 0

    def location(self, pos: int) -> str:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return f"[{line}:{column}]"

    def parse_error(self, message: str, pos: int, caused_by: Mapping[str, Any] | None = None) -> EsError:
        return EsError(400, "x_content_parse_exception", f"{self.location(pos)} {message}", caused_by)

    def _source(self, pos: int) -> str:
        line, column = self.location(pos)[1:-1].split(":")
        return (
            "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); "
            f"line: {line}, column: {column}]"
        )

    def json_error(self, message: str, pos: int) -> EsError:
        return self.parse_error(message, pos, {"type": "json_parse_exception", "reason": message + self._source(pos)})

    def eof_error(self, message: str = "Unexpected end-of-input") -> EsError:
        pos = len(self.text)
        return EsError(
            400,
            "x_content_e_o_f_exception",
            f"{self.location(pos)} {message}",
            {"type": "json_e_o_f_exception", "reason": message + self._source(pos)},
        )

    def unexpected(self, expectation: str) -> EsError:
        char = self.peek()
        if char is None:
            return self.eof_error(f"Unexpected end-of-input: {expectation}")
        return self.json_error(f"Unexpected character ('{char}' (code {ord(char)})): {expectation}", self.pos)

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def skip_ws(self) -> None:
        """White space and the C/C++ comments Elasticsearch's Jackson allows."""
        text = self.text
        while self.pos < len(text):
            if text[self.pos] in " \t\r\n":
                self.pos += 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.eof_error("Unexpected end-of-input in a comment")
                self.pos = end + 2
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            else:
                return

    def value_token(self) -> str | None:
        """The token starting at the cursor (not consumed), None at end of input."""
        char = self.peek()
        if char is None:
            return None
        if char == "{":
            return START_OBJECT
        if char == "[":
            return START_ARRAY
        if char == '"':
            return VALUE_STRING
        if char == "-" or char.isdigit():
            if not _NUMBER.match(self.text, self.pos):
                if self.pos + 1 >= len(self.text):
                    raise self.eof_error("Unexpected end-of-input in a Number value")
                raise self.json_error("Invalid numeric value: expected digit", self.pos)
            return VALUE_NUMBER
        word = _WORD.match(self.text, self.pos)
        literal = word.group() if word else char
        if literal in ("true", "false"):
            return VALUE_BOOLEAN
        if literal == "null":
            return VALUE_NULL
        if (
            literal in ("t", "tr", "tru", "f", "fa", "fal", "fals", "n", "nu", "nul")
            and word
            and word.end() == len(self.text)
        ):
            raise self.eof_error("Unexpected end-of-input in a literal")
        raise self.json_error(
            f"Unrecognized token '{literal}': was expecting (JSON String, Number, Array, Object or token "
            "'null', 'true' or 'false')",
            self.pos,
        )

    def read_string(self) -> str:
        start = self.pos
        try:
            value, self.pos = json.decoder.scanstring(self.text, self.pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            if exc.msg.startswith("Unterminated string"):
                raise self.eof_error("Unexpected end-of-input in VALUE_STRING") from None
            if exc.msg.startswith("Invalid control character"):
                raise self.json_error(
                    f"Illegal unquoted character ((CTRL-CHAR, code {ord(self.text[exc.pos])})): has to be "
                    "escaped using backslash to be included in string value",
                    exc.pos,
                ) from None
            raise self.json_error(f"Unrecognized character escape in string at {start}", exc.pos) from None
        assert isinstance(value, str)
        return value

    def read_scalar(self, token: str | None) -> Any:
        if token == VALUE_STRING:
            return self.read_string()
        if token == VALUE_NUMBER:
            match = _NUMBER.match(self.text, self.pos)
            assert match is not None
            self.pos = match.end()
            return json.loads(match.group())
        word = _WORD.match(self.text, self.pos)
        assert word is not None
        self.pos = word.end()
        return {"true": True, "false": False, "null": None}[word.group()]

    def skip_value(self) -> None:
        """Step over a whole value (only needed when an override lets an unknown field through)."""
        token = self.value_token()
        if token in (START_OBJECT, START_ARRAY):
            try:
                _, self.pos = json.JSONDecoder().raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(self.text.rstrip()):
                    raise self.eof_error() from None
                raise self.json_error(exc.msg, exc.pos) from None
        else:
            self.read_scalar(token)


# -------------------------------------------------------------------------------------- Java behaviours


JACKSON_EOF = "com.fasterxml.jackson.core.io.JsonEOFException"
#: the bytes Java's Character.isWhitespace accepts before the ``{`` of a JSON object (XContentFactory)
_JAVA_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")


def looks_like_json(body: bytes) -> bool:
    """``XContentFactory.xContentType`` for JSON: an optional UTF-8 BOM, white space, then ``{``."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    for byte in body:
        if byte == ord("{"):
            return True
        if byte not in _JAVA_WHITESPACE:
            return False
    return False


def java_equals_ignore_case(a: str, b: str) -> bool:
    """``String.equalsIgnoreCase``: char by char, upper then lower case, never changing length."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        ux, uy = _char_upper(x), _char_upper(y)
        if ux == uy or _char_lower(ux) == _char_lower(uy):
            continue
        return False
    return True


def _char_upper(c: str) -> str:
    u = c.upper()
    return u if len(u) == 1 else c


def _char_lower(c: str) -> str:
    lower = c.lower()
    return lower if len(lower) == 1 else c


def parse_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def _similarity(a: str, b: str) -> float:
    """Lucene's LevenshteinDistance: 1 - edits / longest length."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    longest = max(len(a), len(b)) or 1
    return 1.0 - previous[-1] / longest


def suggest(name: str, candidates: Iterable[str], *, prefix: str, spaced: bool = False) -> str:
    """Elasticsearch's "did you mean" tail for an unknown parameter or field."""
    scored = sorted(
        ((score, c) for c in candidates if (score := _similarity(name, c)) > 0.5),
        key=lambda sc: (-sc[0], sc[1]),
    )
    if not scored:
        return prefix
    sep = " " if spaced else " -> "
    if len(scored) == 1:
        return f"{prefix}{sep}did you mean [{scored[0][1]}]?"
    return f"{prefix}{sep}did you mean any of [{', '.join(c for _, c in scored)}]?"
