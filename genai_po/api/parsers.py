"""The JSON parser of the API: a body nested too deep, holding NUL or integers beyond 64
bits is a 400 with the reason, before any view or serializer sees it."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from genai_po import inputs


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return inputs.loads(stream.read().decode(encoding))
        except inputs.InputRefused as exc:
            raise ParseError(f"The JSON body was refused: {exc}") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
