"""/metrics and the request-latency middleware.

Who may read /metrics: with ``METRICS_TOKEN`` set, any client presenting
``Authorization: Bearer <METRICS_TOKEN>``; without it, loopback clients only
(a scraper on the same host or pod). Everyone else gets 404, so the endpoint
is not advertised.
"""

import hmac
import ipaddress
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from flowauth import metrics


def _allowed(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        presented = request.headers.get("Authorization", "")
        return hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _registry():
    if getattr(settings, "PROMETHEUS_MULTIPROC_DIR", ""):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@csrf_exempt  # changes nothing; a POST must get the same 404 as any other stranger, not a CSRF page
def metrics_view(request):
    if request.method != "GET" or not _allowed(request):
        raise Http404()
    return HttpResponse(
        generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
    )


class RequestMetricsMiddleware:
    """Observes every request's latency, labelled by URL name and status class (2xx, 4xx...)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.url_name or match.route) if match else "unmatched"
        metrics.REQUEST_LATENCY.labels(view=view, status=f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response
