import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowauth.settings")

if not os.environ.get("REDIS_URL"):
    from flowauth import embedded_redis

    embedded_redis.ensure_running()

from flowauth.bodylimit import BoundedBody  # noqa: E402 (after Django's settings are named)

application = BoundedBody(get_wsgi_application())
