"""Staff views of sessions and auth events: read-only, revocation through the services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flowauth.errors import RevocationStoreUnavailable
from tokens import services
from tokens.models import AuthEvent, RefreshToken, RevokeReason, Session, UserCutoff

REVOKE_PERMISSION = "tokens.revoke_session"


class RevokeActionsMixin:
    """Actions gated by ``tokens.revoke_session``; a forced POST without it is a 403."""

    revoke_actions: tuple[str, ...] = ()

    def has_revoke_session_permission(self, request) -> bool:
        return request.user.has_perm(REVOKE_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action", "")
        forced = request.method == "POST" and action in self.revoke_actions
        if forced and not self.has_revoke_session_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def run_revocation(self, request, revoke, success_message: str) -> None:
        """Call a revoking service; a Redis failure becomes an admin error, never a 500."""
        if not self.has_revoke_session_permission(request):
            raise PermissionDenied
        try:
            count = revoke()
        except RevocationStoreUnavailable:
            self.message_user(
                request,
                _("Nothing was revoked: the revocation store (Redis) is unavailable. Try again."),
                level=messages.ERROR,
            )
            return
        self.message_user(request, success_message % {"count": count}, level=messages.SUCCESS)


class SessionStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("Live")), ("expired", _("Expired")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.live(now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


def session_state(session: Session) -> str:
    if session.revoked_at is not None:
        return f"revoked ({session.get_revoke_reason_display() or 'no reason'})"
    return "live" if session.expires_at > timezone.now() else "expired"


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefreshTokenInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The session's refresh tokens: ids and times only (token strings are never stored)."""

    model = RefreshToken
    fk_name = "session"
    fields = ["jti", "issued_at", "expires_at", "used_at", "is_revoked"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Session)
class SessionAdmin(RevokeActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "user",
        "device_name",
        "state",
        "dpop_bound",
        "ip_address",
        "created_at",
        "last_used_at",
    ]
    list_filter = [SessionStateFilter, "revoke_reason"]
    search_fields = ["user__email", "ip_address", "=id", "=refresh_tokens__jti"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in Session._meta.fields] + ["state"]
    inlines = [RefreshTokenInline]
    actions = ["revoke_selected"]
    revoke_actions = ("revoke_selected",)
    date_hierarchy = "created_at"

    @admin.display(description=_("session"), ordering="id")
    def short_id(self, session: Session) -> str:
        return session.id[:8]

    @admin.display(description=_("state"))
    def state(self, session: Session) -> str:
        return session_state(session)

    @admin.display(description=_("DPoP-bound"), boolean=True, ordering="dpop_jkt")
    def dpop_bound(self, session: Session) -> bool:
        return bool(session.dpop_jkt)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke_session"])
    def revoke_selected(self, request, queryset):
        self.run_revocation(
            request,
            lambda: services.revoke_sessions(queryset, reason=RevokeReason.ADMIN, actor=request.user),
            _("%(count)d session(s) revoked."),
        )


@admin.register(AuthEvent)
class AuthEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "user", "email", "reason", "actor", "ip_address", "short_session"]
    list_filter = ["kind", "reason", ("user", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["email", "user__email", "=ip_address", "=session_id"]
    list_select_related = ["user", "actor"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuthEvent._meta.fields]

    @admin.display(description=_("session"))
    def short_session(self, event: AuthEvent) -> str:
        return event.session_id[:8]


@admin.register(UserCutoff)
class UserCutoffAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Per-user cut-offs (logout-all, password change, deactivation, deletion): written only by the services."""

    list_display = ["user_id", "not_before", "reason", "keep_session_id", "user_deleted"]
    list_filter = ["reason", "user_deleted"]
    search_fields = ["=user_id"]
    readonly_fields = [f.name for f in UserCutoff._meta.fields]


from tokens import admin_webhooks  # noqa: E402,F401  (webhook deliveries, read-only)
