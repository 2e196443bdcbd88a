"""Staff view of users: sessions end on deactivation and on a password set by staff."""

import copy

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, ReadOnlyPasswordHashWidget, UserChangeForm
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from accounts import services as account_services
from accounts.models import User
from flowauth.errors import RevocationStoreUnavailable
from tokens import services
from tokens.admin import RevokeActionsMixin
from tokens.models import RevokeReason

STORE_DOWN = _(
    "Nothing was changed: the revocation store (Redis) is unavailable, so the user's sessions "
    "could not be ended. Try again."
)


class PasswordStateWidget(ReadOnlyPasswordHashWidget):
    """Says whether a password is set; never shows any part of the hash or its salt."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        usable = bool(context["summary"]) and "value" in context["summary"][0]
        context["summary"] = [{"label": gettext("Password set.") if usable else gettext("No password set.")}]
        return context


class FlowAuthUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "password" in self.fields:
            self.fields["password"].widget = PasswordStateWidget()


class RevokingPasswordChangeForm(AdminPasswordChangeForm):
    """Staff setting a password ends every session of the user, in the same transaction."""

    actor = None

    def save(self, commit: bool = True):
        return account_services.set_password_by_staff(
            save=lambda: super(RevokingPasswordChangeForm, self).save(commit=commit), actor=self.actor
        )


@admin.register(User)
class UserAdmin(RevokeActionsMixin, DjangoUserAdmin):
    form = FlowAuthUserChangeForm
    change_password_form = RevokingPasswordChangeForm
    ordering = ["email"]
    list_display = ["email", "email_verified", "username", "is_active", "is_staff", "second_factor", "date_joined"]
    list_filter = ["email_verified", "is_active", "is_staff"]
    search_fields = ["email", "username"]
    fieldsets = (
        (None, {"fields": ("email", "email_verified", "password")}),
        ("Profile", {"fields": ("username", "first_name", "last_name", "avatar")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
        ("Second factor", {"fields": ("second_factor",)}),
    )
    readonly_fields = ("second_factor",)
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["revoke_all_sessions", "remove_second_factor"]
    revoke_actions = ("revoke_all_sessions", "remove_second_factor")

    @admin.action(description=_("Revoke all sessions of selected users"), permissions=["revoke_session"])
    def revoke_all_sessions(self, request, queryset):
        def revoke() -> int:
            with transaction.atomic():
                return sum(
                    services.revoke_all_for_user(user, reason=RevokeReason.ADMIN, actor=request.user)
                    for user in queryset
                )

        self.run_revocation(request, revoke, _("%(count)d session(s) revoked."))

    def user_change_password(self, request, id, form_url=""):
        # A per-request copy carries the acting staff member into the form, thread-safely.
        view = copy.copy(self)
        view.change_password_form = type(
            "ActorPasswordChangeForm", (RevokingPasswordChangeForm,), {"actor": request.user}
        )
        try:
            return DjangoUserAdmin.user_change_password(view, request, id, form_url)
        except RevocationStoreUnavailable:
            messages.error(request, STORE_DOWN)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Deactivating a user ends their sessions (tokens.signals); Redis down rolls it back.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except RevocationStoreUnavailable:
            messages.error(request, STORE_DOWN)
            return HttpResponseRedirect(request.get_full_path())


# Second factors (docs/mfa.md): staff see whether a user has one and can remove
# it (the user's credentials end, an event is recorded), never its secret:
# django-otp's own device admins (which show keys and QR codes) are removed.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


@admin.display(description=_("Second factor"), boolean=True)
def _second_factor(self, obj) -> bool:
    return obj.pk is not None and mfa.has_factor(obj)


@admin.action(description=_("Remove the second factor of selected users"), permissions=["revoke_session"])
def _remove_second_factor(self, request, queryset):
    def remove() -> int:
        with transaction.atomic():
            return sum(mfa.remove_factor(user, actor=request.user) for user in queryset)

    self.run_revocation(request, remove, _("%(count)d second factor(s) removed; those users' sessions ended."))


UserAdmin.second_factor = _second_factor
UserAdmin.remove_second_factor = _remove_second_factor
