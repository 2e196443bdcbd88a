"""Login timing for the four failure cases that must look alike (docs/security.md BF-08).

    DEBUG=1 .venv/bin/python bench/enumeration.py [--samples 40]

Runs in-process (Django's test client, no network) against a throwaway SQLite
database under bench/.work/, with the throttles lifted, and prints the median
and spread of each case. The tests assert only that the hasher runs in every
case (tests/accounts/test_enumeration.py); timing is reported here, never asserted.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
WORK = BASE_DIR / "bench" / ".work"


def setup() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'enumeration.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowauth.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    settings.FLOWAUTH_THROTTLE_RATES = {scope: "1000000/min" for scope in settings.FLOWAUTH_THROTTLE_RATES}
    call_command("migrate", verbosity=0)


def users(password: str) -> dict:
    from accounts.models import User

    User.objects.filter(email__endswith="@bench.example").delete()
    User.objects.create_user("known@bench.example", password)
    User.objects.create_user("inactive@bench.example", password, is_active=False)
    unusable = User.objects.create_user("unusable@bench.example", password)
    unusable.set_unusable_password()
    unusable.save()
    return {
        "unknown email": ("nobody@bench.example", password),
        "wrong password": ("known@bench.example", password + "x"),
        "inactive user": ("inactive@bench.example", password),
        "unusable password": ("unusable@bench.example", password),
        "success (reference)": ("known@bench.example", password),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    setup()
    from django.test import Client

    client = Client()
    cases = users("correct horse battery staple")
    timings = {name: [] for name in cases}
    for _ in range(args.samples):  # interleaved, so drift hits every case alike
        for name, (email, password) in cases.items():
            started = time.perf_counter()
            body = {"email": email, "password": password}
            response = client.post("/api/auth/login", body, content_type="application/json")
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == (200 if name.startswith("success") else 401), (name, response.status_code)
    print(f"login timing, {args.samples} samples each (ms)")
    print(f"{'case':<22}{'median':>9}{'p10':>9}{'p90':>9}")
    for name, values in timings.items():
        deciles = statistics.quantiles(values, n=10)
        print(f"{name:<22}{statistics.median(values):>9.2f}{deciles[0]:>9.2f}{deciles[-1]:>9.2f}")


if __name__ == "__main__":
    main()
