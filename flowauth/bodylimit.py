"""Request bodies are bounded before they are read, whatever the client declares.

``REQUEST_BODY_MAX_BYTES`` (default: DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MiB: a
2 MiB avatar and its multipart framing) caps every body, on every path:

- a declared Content-Length over the cap is answered 413 ``request_too_large``
  before a byte of the body is read (BodyLimitMiddleware; and BoundedBody,
  the WSGI wrapper, before Django builds the request at all);
- a chunked body (no Content-Length; gunicorn decodes it and marks
  ``wsgi.input_terminated``) is read up to the cap and refused past it;
- multipart data is counted again as it arrives (BoundedUploadHandler, first
  in FILE_UPLOAD_HANDLERS), so nothing past the cap is written to memory or disk;
- under gunicorn a refused body is not drained for keep-alive: the
  connection is closed after the answer (gunicorn.conf.py's pre_request).

The avatar's own limit (accounts/avatars.py) is smaller and answers 400 on ``avatar``.
"""

import io
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler

from flowauth.jsonerrors import error_response

_CHUNK = 64 * 1024


def max_body_bytes() -> int:
    return int(getattr(settings, "REQUEST_BODY_MAX_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE))


def declared_length(meta) -> int | None:
    """The Content-Length as a number; None when absent; -1 when it is not a number."""
    raw = (meta.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() else -1


class BodyLimitMiddleware:
    """413 on a declared Content-Length over the cap, 400 on one that is not a number; nothing read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = declared_length(request.META)
        if length is not None and length > max_body_bytes():
            return error_response(413)
        if length == -1:
            return error_response(400, "The Content-Length header is not a number.")
        return self.get_response(request)


_TOO_LARGE = json.dumps({"detail": "The request body is too large.", "code": "request_too_large"}).encode()


def _refuse(start_response):
    start_response(
        "413 Request Entity Too Large",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(_TOO_LARGE))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [_TOO_LARGE]


def _read_bounded(stream, limit: int) -> bytes | None:
    """At most ``limit`` bytes of a terminated stream, or None when it holds more."""
    buffer = io.BytesIO()
    while True:
        piece = stream.read(min(_CHUNK, limit + 1 - buffer.tell()))
        if not piece:
            return buffer.getvalue()
        buffer.write(piece)
        if buffer.tell() > limit:
            return None


class BoundedBody:
    """WSGI wrapper: refuse over-cap bodies before Django, and make chunked bodies readable up to the cap.

    Django reads a request without Content-Length as empty; gunicorn hands
    chunked bodies over decoded (``wsgi.input_terminated``), so they are
    read here, at most the cap plus one byte, and given a Content-Length.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        length = declared_length(environ)
        limit = max_body_bytes()
        if length is not None and length > limit:
            return _refuse(start_response)
        if length is None and environ.get("wsgi.input_terminated") and _chunked(environ):
            body = _read_bounded(environ["wsgi.input"], limit)
            if body is None:
                return _refuse(start_response)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.application(environ, start_response)


def _chunked(environ) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


class BoundedUploadHandler(FileUploadHandler):
    """First upload handler: refuses a multipart body past the cap, counting what arrives."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.received = 0
        if content_length > max_body_bytes():
            raise RequestDataTooBig("The request body is too large.")

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > max_body_bytes():
            raise RequestDataTooBig("The request body is too large.")
        return raw_data  # handed on to the next handler, which stores it

    def file_complete(self, file_size):
        return None


def close_after_refusal(req) -> None:
    """gunicorn pre_request: a body that may be refused unread closes the connection after the answer."""
    headers = dict(req.headers)
    length = (headers.get("CONTENT-LENGTH") or "").strip()
    if "chunked" in headers.get("TRANSFER-ENCODING", "").lower():
        req.must_close = True
    elif length and not (length.isascii() and length.isdigit() and int(length) <= max_body_bytes()):
        req.must_close = True
