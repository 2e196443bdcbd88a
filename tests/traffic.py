"""Traffic for the fault tests: checkers call whoami with random tokens while the test ends sessions.

The ledger says which logouts were acknowledged and when, so "accepted after
its logout was acknowledged" can be counted exactly; ``figures`` gives the
503 window and the time to recover after a fault.
"""

import random
import threading
import time

import httpx

CHECKERS = 4


def bearer(access: str) -> dict:
    return {"Authorization": f"Bearer {access}"}


class Clients:
    """``count`` threads running ``self._run(n)`` from ``with`` until its end; results under one lock."""

    join_timeout = 30

    def __init__(self, base: str, pairs: list, count: int):
        self.base, self.pairs = base, pairs
        self.results: list[tuple[float, int, int, str]] = []  # (sent at, pair index, status, code)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(count)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=self.join_timeout)

    def _run(self, n: int) -> None:
        raise NotImplementedError


class Traffic(Clients):
    """Checkers call whoami with random tokens; the ledger says which logouts were acknowledged, when."""

    def __init__(self, base: str, pairs: list):
        super().__init__(base, pairs, CHECKERS)
        self.acked: dict[int, float] = {}

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                index = rng.randrange(len(self.pairs))
                sent = time.monotonic()
                try:
                    response = client.get("/api/auth/whoami", headers=bearer(self.pairs[index].access))
                    status, code = response.status_code, (response.json().get("code", "") if response.content else "")
                except httpx.HTTPError as exc:
                    status, code = 0, f"{type(exc).__name__} after {time.monotonic() - sent:.1f}s"
                with self.lock:
                    self.results.append((sent, index, status, code))

    def logout(self, client: httpx.Client, index: int) -> int:
        response = client.post("/api/auth/logout", headers=bearer(self.pairs[index].access), json={})
        if response.status_code == 204 or (
            response.status_code == 401 and response.json()["code"] == "session_revoked"
        ):
            with self.lock:
                self.acked.setdefault(index, time.monotonic())
        return response.status_code

    def accepted_after_logout(self) -> list:
        with self.lock:
            return [r for r in self.results if r[2] == 200 and r[1] in self.acked and self.acked[r[1]] < r[0]]


def figures(results: list, killed_at: float) -> dict:
    after = sorted(r for r in results if r[0] >= killed_at)
    unavailable = [r[0] for r in after if r[2] == 503]
    if not unavailable:
        return {"requests": len(results), "503s": 0, "window_s": 0.0}
    answered_again = next((r[0] for r in after if r[0] > unavailable[-1] and r[2] in (200, 401)), None)
    return {
        "requests": len(results),
        "503s": len(unavailable),
        "window_s": round(unavailable[-1] - unavailable[0], 3),
        "recovered_after_kill_s": round((answered_again or unavailable[-1]) - killed_at, 3),
    }
