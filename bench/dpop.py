"""The cost of a DPoP-bound GET against a Bearer GET, in one run (part of ``make bench``).

    .venv/bin/python bench/dpop.py            # or: make bench-dpop
    DPOP_BENCH_REQUESTS=300 DPOP_BENCH_ROUNDS=5 .venv/bin/python bench/dpop.py

In-process, through Django's test client on the full middleware stack, a
fresh SQLite database and the embedded Redis (or REDIS_URL): the server's
own work per request, no network. The two sides alternate in every round,
so machine noise reaches both; proofs are signed before the clock starts
(signing is the client's cost, reported apart). Also counts Redis round
trips per request (a pipeline is one) and times proof verification alone
for each algorithm. Writes bench/DPOP.md.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REQUESTS = int(os.environ.get("DPOP_BENCH_REQUESTS", "300"))
ROUNDS = int(os.environ.get("DPOP_BENCH_ROUNDS", "5"))
VERIFY_N = int(os.environ.get("DPOP_BENCH_VERIFY", "500"))
HOST = "http://testserver"
PATH = "/api/auth/whoami"


def _setup() -> None:
    database = Path(tempfile.mkdtemp(prefix="flowauth-dpop-bench-")) / "db.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowauth.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 40)
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    if not os.environ.get("REDIS_URL"):
        from flowauth import embedded_redis

        embedded_redis.ensure_running()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tokens import revocation

    revocation.rebuild()


def _timed(client, requests) -> float:
    started = time.perf_counter()
    for headers in requests:
        response = client.get(PATH, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"unexpected {response.status_code}: {response.content[:200]!r}")
    return (time.perf_counter() - started) / len(requests) * 1000


def _verify_cost(alg: str) -> tuple[float, float]:
    """Milliseconds to sign and to check one proof (dpop.check_proof without the request parts)."""
    import jwt as pyjwt

    from tokens import dpop
    from tokens.dpop_client import DPoPKey

    key = DPoPKey(alg)
    started = time.perf_counter()
    proofs = [key.proof("GET", HOST + PATH) for _ in range(VERIFY_N)]
    sign_ms = (time.perf_counter() - started) / VERIFY_N * 1000
    started = time.perf_counter()
    for proof in proofs:
        public = dpop._public_key(alg, dpop._header(proof)["jwk"])
        pyjwt.decode(proof, public, algorithms=[alg], options={"verify_iat": False})
    return sign_ms, (time.perf_counter() - started) / VERIFY_N * 1000


def main() -> None:
    _setup()
    from django.test import Client

    from accounts.models import User
    from bench.costs import redis_round_trips
    from tokens.dpop_client import DPoPKey
    from tokens.services import ClientInfo, issue_session

    user = User.objects.create_user(email="dpop-bench@example.com", password="bench password 123!")
    key = DPoPKey(os.environ.get("DPOP_BENCH_ALG", "ES256"))
    bearer = issue_session(user).access
    bound = issue_session(user, client=ClientInfo(dpop_jkt=key.jkt)).access
    client = Client()

    def bound_requests(n):
        return [
            {"HTTP_AUTHORIZATION": f"DPoP {bound}", "HTTP_DPOP": key.proof("GET", HOST + PATH, access_token=bound)}
            for _ in range(n)
        ]

    bearer_requests = [{"HTTP_AUTHORIZATION": f"Bearer {bearer}"}] * REQUESTS
    _timed(client, bearer_requests[:50]), _timed(client, bound_requests(50))  # warm up
    trips = {}
    for side, headers in (("bearer", bearer_requests[0]), ("dpop", bound_requests(1)[0])):
        with redis_round_trips() as sent:
            client.get(PATH, **headers)
        trips[side] = sent[0]
    bearer_ms, bound_ms = [], []
    for _ in range(ROUNDS):
        prepared = bound_requests(REQUESTS)
        bearer_ms.append(_timed(client, bearer_requests))
        bound_ms.append(_timed(client, prepared))
    b, d = statistics.median(bearer_ms), statistics.median(bound_ms)
    algs = {alg: _verify_cost(alg) for alg in ("ES256", "EdDSA", "RS256")}
    lines = [
        "# DPoP: a bound GET against a Bearer GET",
        "",
        f"`{' '.join(sys.argv) or 'bench/dpop.py'}`: {ROUNDS} rounds x {REQUESTS} requests per side, "
        f"alternating; in-process (Django test client, full middleware), proof key {key.alg}.",
        "",
        "| side | ms/request (median of rounds) | Redis round trips |",
        "| --- | --- | --- |",
        f"| Bearer GET /api/auth/whoami | {b:.3f} | {trips['bearer']} |",
        f"| DPoP GET /api/auth/whoami | {d:.3f} | {trips['dpop']} |",
        "",
        f"**ratio DPoP / Bearer: {d / b:.2f}x** (+{d - b:.3f} ms per request)",
        "",
        "Per-round ms: Bearer "
        + ", ".join(f"{v:.3f}" for v in bearer_ms)
        + "; DPoP "
        + ", ".join(f"{v:.3f}" for v in bound_ms),
        "",
        f"Proof cost by algorithm ({VERIFY_N} proofs each; server: parse the jwk and verify the signature):",
        "",
        "| alg | client signs (ms) | server verifies (ms) |",
        "| --- | --- | --- |",
        *[f"| {alg} | {sign:.3f} | {verify:.3f} |" for alg, (sign, verify) in algs.items()],
        "",
    ]
    cheapest = min(algs, key=lambda alg: algs[alg][1])
    lines.append(f"Cheapest to verify here: **{cheapest}**.")
    report = "\n".join(lines) + "\n"
    (ROOT / "bench" / "DPOP.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
