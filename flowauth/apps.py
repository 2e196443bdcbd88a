from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """django.contrib.admin on FlowAuth's site: its login is throttled like the API's."""

    default_site = "accounts.admin_site.FlowAuthAdminSite"
