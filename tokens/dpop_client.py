"""A small reference DPoP client (RFC 9449) for apps talking to FlowAuth.

The key pair stays in the client (on a device: in its key store); only
proofs leave it. The client signs one proof per request (a fresh ``jti``,
``htm``, ``htu`` without query or fragment, ``iat``, ``ath`` with an access
token), remembers the last ``DPoP-Nonce`` the server sent and retries once
when it answers ``use_dpop_nonce``. It refreshes before the access token
expires, and keeps the refresh token it presented until the answer arrives:
a retry of a lost answer within the server's grace window gets the same new
pair instead of ending the session.

It speaks to any object with a ``request(method, url, headers=..., json=...)``
method returning a response with ``status_code``, ``headers`` and ``json()``
(``httpx.Client``, ``requests.Session``); ``DjangoTransport`` adapts Django's
test client.

Example::

    client = DPoPClient(httpx.Client(), "https://auth.example.com")
    client.login("me@example.com", "secret")
    me = client.get("/api/auth/whoami").json()
"""

import base64
import json
import json as _json
import secrets
import time
from urllib.parse import urlsplit

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tokens.dpop import access_token_hash, jwk_thumbprint

_ALGORITHMS = {"ES256": ECAlgorithm, "EdDSA": OKPAlgorithm, "RS256": RSAAlgorithm}


def generate_key(alg: str = "ES256"):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported DPoP algorithm {alg!r}")


def public_jwk(private_key, alg: str) -> dict:
    jwk = json.loads(_ALGORITHMS[alg].to_jwk(private_key.public_key()))
    return {name: value for name, value in jwk.items() if name not in ("key_ops", "use", "alg", "kid")}


class DPoPKey:
    """A key pair that signs proofs."""

    def __init__(self, alg: str = "ES256", private_key=None) -> None:
        self.alg = alg
        self.private_key = private_key or generate_key(alg)
        self.jwk = public_jwk(self.private_key, alg)
        self.jkt = jwk_thumbprint(self.jwk)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: int | None = None,
        jti: str | None = None,
        **claims,
    ) -> str:
        parts = urlsplit(url)
        payload = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": f"{parts.scheme}://{parts.netloc}{parts.path}",
            "iat": int(time.time()) if iat is None else iat,
        }
        if access_token is not None:
            payload["ath"] = access_token_hash(access_token)
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims)
        return pyjwt.encode(payload, self.private_key, algorithm=self.alg, headers={"typ": "dpop+jwt", "jwk": self.jwk})


class DjangoTransport:
    """Django's test client (or DRF's APIClient) as a transport."""

    def __init__(self, client) -> None:
        self.client = client

    def request(self, method: str, url: str, headers: dict | None = None, json=None):
        parts = urlsplit(url)
        extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in (headers or {}).items()}
        body = {} if json is None else {"data": _json.dumps(json), "content_type": "application/json"}
        return self.client.generic(
            method, parts.path or "/", secure=parts.scheme == "https", HTTP_HOST=parts.netloc, **body, **extra
        )


class DPoPClient:
    """Logs in with a proof, keeps the bound pair, signs every call, follows nonces, refreshes."""

    refresh_margin = 30  # seconds before the access token's exp at which it is refreshed

    def __init__(self, transport, base_url: str, key: DPoPKey | None = None) -> None:
        self.transport, self.base_url, self.key = transport, base_url.rstrip("/"), key or DPoPKey()
        self.nonce: str | None = None
        self.access: str | None = None
        self.refresh_token: str | None = None
        self.access_exp = 0

    def _send(self, method: str, path: str, *, json=None, access: str | None = None, retry: bool = True):
        url = self.base_url + path
        headers = {"DPoP": self.key.proof(method, url, access_token=access, nonce=self.nonce)}
        if access is not None:
            headers["Authorization"] = f"DPoP {access}"
        response = self.transport.request(method, url, headers=headers, json=json)
        if response.headers.get("DPoP-Nonce"):
            self.nonce = response.headers["DPoP-Nonce"]
        if retry and response.status_code in (400, 401) and _code(response) == "use_dpop_nonce":
            return self._send(method, path, json=json, access=access, retry=False)
        return response

    def _keep(self, response) -> None:
        body = response.json()
        self.access, self.refresh_token = body["access"], body["refresh"]
        self.access_exp = _unverified_exp(self.access)

    def login(self, email: str, password: str, **extra):
        response = self._send("POST", "/api/auth/login", json={"email": email, "password": password, **extra})
        if response.status_code == 200:
            self._keep(response)
        return response

    def refresh(self):
        """Rotate; on a lost answer, call again with the same refresh token within the grace window."""
        response = self._send("POST", "/api/auth/refresh", json={"refresh": self.refresh_token})
        if response.status_code == 200:
            self._keep(response)
        return response

    def request(self, method: str, path: str, *, json=None):
        if self.access is None:
            raise RuntimeError("log in first")
        if self.access_exp - time.time() < self.refresh_margin:
            self.refresh()
        return self._send(method, path, json=json, access=self.access)

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, json=None):
        return self.request("POST", path, json=json)


def _unverified_exp(token: str) -> int:
    """The access token's ``exp``, read to schedule a refresh; the client trusts nothing else in it."""
    segment = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["exp"])


def _code(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
