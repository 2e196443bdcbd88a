"""Password reset timing for a known and an unknown email (docs/recovery.md).

    DEBUG=1 .venv/bin/python bench/recovery_enumeration.py [--samples 200]

In-process (Django's test client) against a throwaway SQLite database under
bench/.work/, throttles lifted. Times POST /api/auth/password/reset and a
wrong-code POST /api/auth/password/reset/confirm for both cases and prints
median and spread. The tests assert that both cases do the same work (one
task enqueued, the same answer); timing is reported here, never asserted.
"""

import argparse
import json
import statistics
import time

from enumeration import setup  # bench/enumeration.py: the same throwaway database


def measure(client, path: str, body: dict, samples: int) -> list[float]:
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        response = client.post(path, json.dumps(body), content_type="application/json")
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (202, 400), response.content
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    setup()
    from django.test import Client

    from accounts.models import User

    User.objects.filter(email__endswith="@bench.example").delete()
    User.objects.create_user("known@bench.example", "a bench passphrase 12")
    client = Client()
    cases = {
        "reset, known email": ("/api/auth/password/reset", {"email": "known@bench.example"}),
        "reset, unknown email": ("/api/auth/password/reset", {"email": "nobody@bench.example"}),
        "confirm, known email, wrong code": (
            "/api/auth/password/reset/confirm",
            {"email": "known@bench.example", "code": "00000000", "new_password": "another passphrase 34"},
        ),
        "confirm, unknown email": (
            "/api/auth/password/reset/confirm",
            {"email": "nobody@bench.example", "code": "00000000", "new_password": "another passphrase 34"},
        ),
    }
    for name, (path, body) in cases.items():
        measure(client, path, body, 10)  # warm-up
        timings = measure(client, path, body, args.samples)
        print(
            f"{name:36s} median {statistics.median(timings):6.2f} ms  "
            f"p10 {statistics.quantiles(timings, n=10)[0]:6.2f}  p90 {statistics.quantiles(timings, n=10)[-1]:6.2f}"
        )


if __name__ == "__main__":
    main()
