"""Log output: one JSON object per line in production, plain text for humans.

Both formats pass through RedactTokens, a last line of defence: anything
shaped like a JWT is replaced before a line is written, whoever logged it.
"""

import json
import logging
import re
from datetime import UTC, datetime

# Three base64url segments starting with a JSON object header ("{" encodes as "eyJ").
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")
_REDACTED = "[redacted-token]"
# Query-string or form parameters that carry a secret, whatever its shape: ?access_token=opaque.
_SECRET_PARAMETER = re.compile(
    r"(?P<name>\b(?:access_token|refresh_token|id_token|token|access|refresh|password|new_password|"
    r"current_password|code|secret|client_secret|mfa_token)=)[^&\s\"']*",
    flags=re.IGNORECASE,
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """Text with every JWT-shaped string and every secret parameter's value replaced."""
    return _SECRET_PARAMETER.sub(lambda m: m["name"] + _REDACTED, _JWT.sub(_REDACTED, text))


class RedactingFormatter(logging.Formatter):
    """Plain text, redacted as a whole: the message, and a traceback's text too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingServerFormatter(RedactingFormatter):
    """runserver's access log (the django.server logger), in Django's own format and colours, redacted."""

    def __init__(self, *args, **kwargs):
        from django.utils.log import ServerFormatter

        super().__init__(*args, **kwargs)
        self._server = ServerFormatter(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._server.format(record))


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JSONFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra}``, a traceback under "exception"."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key == "request":  # Django's repr carries the query string, where a token may sit
                value = f"{getattr(value, 'method', '')} {getattr(value, 'path', '')}"
            if not isinstance(value, (int, float, bool, type(None))):
                value = redact(str(value))
            entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)
