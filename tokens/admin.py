from django.contrib import admin

from tokens.models import RefreshToken, Session


class RefreshTokenInline(admin.TabularInline):
    model = RefreshToken
    fk_name = "session"
    fields = ["jti", "issued_at", "expires_at", "used_at", "is_revoked"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "device_name", "ip_address", "created_at", "last_used_at", "expires_at", "revoked_at", "revoke_reason"]
    search_fields = ["user__email", "ip_address", "id", "refresh_tokens__jti"]
    readonly_fields = [f.name for f in Session._meta.fields]
    inlines = [RefreshTokenInline]

    def has_add_permission(self, request):
        return False
