"""Reading an ingest request's body: at most a given size, gzip accepted (and bounded
after decompression too, so a small bomb cannot expand into memory)."""

from __future__ import annotations

import zlib


class BodyRefused(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def read_body(request, limit: int) -> bytes:
    """The request's body (a DRF or Django request), decompressed if gzip-encoded."""
    django_request = getattr(request, "_request", request)
    length = django_request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > limit:
        raise BodyRefused(f"The body is {int(length):,} bytes; at most {limit:,}.", 413)
    raw = django_request.read(limit + 1)
    if len(raw) > limit:
        raise BodyRefused(f"The body is over {limit:,} bytes.", 413)
    encoding = django_request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise BodyRefused(
            f"Content-Encoding {encoding[:20]!r} is not accepted: send gzip or none.", 415
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise BodyRefused("The body is not valid gzip.") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise BodyRefused(f"The body is over {limit:,} bytes once decompressed.", 413)
    return body
