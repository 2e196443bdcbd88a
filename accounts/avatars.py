"""Avatar checks: a real, small image in an allowed format, or a named refusal.

Pillow's ``Image.open`` reads only the header, so the dimensions are checked
before any pixel is decoded (a 1 KiB file can declare a gigapixel image).
The stored bytes are Pillow's re-encoding of the decoded image: whatever
rode along in the upload (trailing HTML, metadata, a second format) is gone.
"""

import io
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError
from rest_framework import serializers

# Pillow format name -> stored extension (the extension sets the served content type).
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4096


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    extension: str


def _refuse(message) -> serializers.ValidationError:
    return serializers.ValidationError({"avatar": [message]})


def _too_many_pixels() -> serializers.ValidationError:
    return _refuse(_("The image is larger than %(side)dx%(side)d pixels.") % {"side": MAX_SIDE})


def check_avatar(upload) -> CheckedImage:
    """Return the re-encoded image, or raise a 400 that names the problem."""
    if upload.size == 0:
        raise _refuse(_("The file is empty."))
    if upload.size > MAX_BYTES:
        raise _refuse(_("The file is larger than %(limit)d bytes.") % {"limit": MAX_BYTES})
    raw = upload.read()
    try:
        with Image.open(io.BytesIO(raw), formats=list(FORMATS)) as header:
            image_format, (width, height) = header.format, header.size
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise _refuse(_("The file is not a PNG, JPEG, WebP or GIF image.")) from None
    if width > MAX_SIDE or height > MAX_SIDE:
        raise _too_many_pixels()
    return CheckedImage(_decode_and_reencode(raw, image_format), FORMATS[image_format])


def _decode_and_reencode(raw: bytes, image_format: str) -> bytes:
    try:
        with Image.open(io.BytesIO(raw), formats=[image_format]) as probe:
            probe.verify()
        with Image.open(io.BytesIO(raw), formats=[image_format]) as image:
            image.load()
            animated = getattr(image, "is_animated", False)
            out = io.BytesIO()
            image.save(out, format=image_format, save_all=animated)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise _refuse(_("The image is damaged or incomplete.")) from None
    return out.getvalue()
