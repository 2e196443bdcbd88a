"""Webhook deliveries in the admin: read-only, for staff to see what was delivered or failed."""

from django.contrib import admin

from tokens.models_webhooks import WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "url", "status", "attempts", "last_status_code", "created_at", "delivered_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_type", "url"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
