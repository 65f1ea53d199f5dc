"""Reading an ingest request's body: at most a given size, gzip accepted (and bounded
after decompression too, so a small bomb cannot expand into memory)."""

from __future__ import annotations

import zlib

from genai_po.inputs import digits_only


class BodyRefused(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def read_body(request, limit: int) -> bytes:
    """The request's body (a DRF or Django request), decompressed if gzip-encoded."""
    django_request = getattr(request, "_request", request)
    length = django_request.META.get("CONTENT_LENGTH") or ""
    if digits_only(length) and int(length) > limit:
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
    if not inflater.eof or inflater.unused_data:
        raise BodyRefused("The body is not one whole gzip stream.")
    return body


def require_json(request) -> None:
    """Refuse a body sent as anything but JSON (a form post, text, multipart)."""
    django_request = getattr(request, "_request", request)
    media_type = django_request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if media_type not in ("application/json", ""):
        raise BodyRefused(
            f"Content-Type {media_type[:40]!r} is not accepted: send application/json.", 415
        )
