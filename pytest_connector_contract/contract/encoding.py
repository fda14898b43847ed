"""How a request body's ``Content-Encoding`` is undone, as Elasticsearch's HTTP layer does it.

Netty's ``HttpContentDecompressor`` stands ahead of the aggregator in Elasticsearch's pipeline
(``Netty4HttpServerTransport``) and decodes gzip (``gzip``, ``x-gzip``) and deflate (``deflate``,
``x-deflate``; zlib-wrapped or raw: its ``ZLIB_OR_NONE``) before anything reads the body; another encoding
passes through as it came. The reference target decodes with a limit (the decoded size counts against
``http.max_content_length``); the captures decode what a client sent to compare it.
"""

from __future__ import annotations

import zlib

__all__ = ["BodyTooLarge", "BodyUndecodable", "decodes", "inflate"]

#: the encodings decoded, and the zlib window bits of each (0: deflate, wrapped or raw, decided per body)
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 0, "x-deflate": 0}


class BodyTooLarge(ValueError):
    """The body inflates past the limit (nothing past the limit was inflated)."""


class BodyUndecodable(ValueError):
    """The body is not valid for its encoding: corrupt, or cut short."""


def decodes(content_encoding: str | None) -> bool:
    """Whether Elasticsearch decodes a body sent with this ``Content-Encoding``."""
    return (content_encoding or "").strip().lower() in _WBITS


def inflate(body: bytes, content_encoding: str, *, limit: int | None = None) -> bytes:
    """``body`` decoded (``decodes(content_encoding)`` must hold), never more than ``limit`` bytes of it in
    memory. An empty body decodes to an empty one."""
    wbits = _WBITS[content_encoding.strip().lower()]
    if not body:
        return b""
    if wbits == 0:  # a zlib header if there is one, else raw deflate
        wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
        wbits = zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    decoded = bytearray()
    data = body
    try:
        while data and not inflater.eof:
            room = 0 if limit is None else limit + 1 - len(decoded)
            decoded += inflater.decompress(data, room)
            if limit is not None and len(decoded) > limit:
                raise BodyTooLarge(f"the body inflates past {limit} bytes")
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise BodyUndecodable(str(exc)) from None
    if not inflater.eof:
        raise BodyUndecodable("the compressed body is cut short")
    return bytes(decoded)
