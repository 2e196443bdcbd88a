"""Prometheus metrics: what happened to logins, refreshes and revocations.

Counters only ever carry low-cardinality labels (outcome, reason, scope,
component, view): never a user, an email, an IP or a token. Under gunicorn,
set PROMETHEUS_MULTIPROC_DIR to an empty directory writable by every worker
(prometheus_client's multiprocess mode); /metrics then adds up all workers.
"""

from prometheus_client import Counter, Histogram

LOGINS = Counter("flowauth_logins_total", "Login attempts by outcome.", ["outcome"])
REFRESHES = Counter("flowauth_refreshes_total", "Refresh attempts by outcome.", ["outcome"])
REUSE_DETECTIONS = Counter("flowauth_refresh_reuse_total", "Refresh tokens replayed after rotation (session revoked).")
REVOCATIONS = Counter("flowauth_sessions_revoked_total", "Sessions newly revoked, by reason.", ["reason"])
REDIS_FAILURES = Counter("flowauth_redis_failures_total", "Redis errors, by component.", ["component"])
THROTTLED = Counter("flowauth_throttled_total", "Requests refused by a throttle, by scope.", ["scope"])
REQUEST_LATENCY = Histogram(
    "flowauth_request_duration_seconds",
    "Request latency by view and status class.",
    ["view", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REVOCATION_VERDICTS = Counter(
    "flowauth_revocation_verdicts_total",
    "Revocation verdicts by source: the local cache or a Redis read.",
    ["source"],
)
