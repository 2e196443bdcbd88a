import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowauth.settings")

if not os.environ.get("REDIS_URL"):
    from flowauth import embedded_redis

    embedded_redis.ensure_running()

application = get_wsgi_application()
