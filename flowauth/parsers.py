from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser for request bodies that must be objects.

    Deeply nested bodies are a 400, not a 500 (RecursionError); so is valid
    JSON that is not an object (``null``, ``1``, ``"x"``, ``[]``, ``true``):
    every view reads fields by name, and a list or a string has none.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if not isinstance(data, dict):
            raise ParseError("JSON parse error - the body must be a JSON object")
        return data
