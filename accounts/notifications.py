"""Security notices by email: the user is told when something happens to the account.

Each function enqueues one mail (accounts/tasks.py send_notice) with the
device, IP address and time; no notice ever carries a token or a code.
Other features call these, e.g. a second factor being added or removed:
``notifications.second_factor_changed(user, added=True, client=...)``.
"""

from django.utils import timezone

KINDS = ("new_device", "password_changed", "password_reset", "email_changed", "reuse_detected", "second_factor_changed")


def _context(client=None, **extra) -> dict:
    return {
        "device": (getattr(client, "device_name", "") or getattr(client, "user_agent", "") or "")[:200],
        "ip_address": getattr(client, "ip_address", None) or "",
        "time": timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC"),
        **extra,
    }


WEBHOOK_EVENTS = {
    "new_device": "user.new_device_login",
    "password_changed": "user.password_changed",
    "password_reset": "user.password_reset",
    "email_changed": "user.email_changed",
    "reuse_detected": "session.reuse_detected",
    "second_factor_changed": "user.second_factor_changed",
}


def _enqueue(to: str, kind: str, context: dict, user=None) -> None:
    from accounts.tasks import send_notice
    from tokens import webhooks

    send_notice.enqueue(to, kind, context)
    if user is not None:  # the same event to the webhook receivers, naming the user by id only
        webhooks.emit(
            WEBHOOK_EVENTS[kind],
            {
                "user_id": str(user.pk),
                **{key: value for key, value in context.items() if key in ("device", "ip_address", "time", "added")},
            },
        )


def new_device_login(user, *, client=None) -> None:
    _enqueue(user.email, "new_device", _context(client), user)


def password_changed(user, *, client=None) -> None:
    _enqueue(user.email, "password_changed", _context(client), user)


def password_reset(user, *, client=None) -> None:
    _enqueue(user.email, "password_reset", _context(client), user)


def email_changed(user, *, old_email: str, client=None) -> None:
    """Sent to the address the account had before the change."""
    _enqueue(old_email, "email_changed", _context(client, new_email=user.email), user)


def reuse_detected(user, *, client=None) -> None:
    _enqueue(user.email, "reuse_detected", _context(client), user)


def second_factor_changed(user, *, added: bool, client=None) -> None:
    _enqueue(user.email, "second_factor_changed", _context(client, added=added), user)


def _on_reuse_detected(sender, *, user, client=None, **kwargs) -> None:
    reuse_detected(user, client=client)


def connect() -> None:
    from tokens import events

    events.reuse_detected.connect(_on_reuse_detected, dispatch_uid="accounts.notifications.reuse_detected")
