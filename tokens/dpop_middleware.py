"""Hands out the current DPoP nonce (RFC 9449 section 8) on every answer to a DPoP request."""

from tokens import dpop
from tokens.settings import token_settings


class DPoPNonceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if token_settings.DPOP_NONCE and dpop.HEADER in request.META and dpop.NONCE_HEADER not in response:
            response[dpop.NONCE_HEADER] = dpop.current_nonce()
        return response
