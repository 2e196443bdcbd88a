"""gunicorn's access and error logs, redacted as FlowAuth's own are (flowauth/logformat.py).

The access log's request line and query string carry whatever a client put
in the URL (``?access_token=...``); the error log quotes bad request lines.
Used through gunicorn.conf.py, which gunicorn reads from the project directory.
"""

import logging

from gunicorn.glogging import Logger

from flowauth.logformat import redact


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(existing, _Redact) for existing in log.filters):
                log.addFilter(_Redact())
