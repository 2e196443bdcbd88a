import unicodedata

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

# Control, format (zero-width, bidi), private-use, surrogate, line/paragraph
# separators and unassigned code points: invisible or unstable, never part of an address.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp", "Cn"})


def normalize_email(email: str) -> str:
    """The one form an address is stored and looked up in.

    Trimmed, NFKC-normalised (fullwidth letters, ligatures and NFD sequences
    become their plain NFC forms), then case-folded as a whole ("ALICE" and
    "alice", "STRASSE" and "straße" are one account) and normalised again so
    the result is stable: normalize_email(normalize_email(x)) == normalize_email(x).
    """
    text = unicodedata.normalize("NFKC", (email or "").strip())
    return unicodedata.normalize("NFKC", text.casefold())


def refused_email_characters(email: str) -> bool:
    """True when the address holds a character no address may hold (see REFUSED_CATEGORIES)."""
    return any(unicodedata.category(char) in REFUSED_CATEGORIES for char in email or "")


def validate_email_characters(email: str) -> None:
    if refused_email_characters(email):
        raise ValidationError(
            "Enter a valid email address: invisible and control characters are not allowed.", code="invalid"
        )


class UserQuerySet(models.QuerySet):
    """Bulk writes that deactivate users end their access, as ``save()`` does (through tokens.signals).

    ``update`` and ``bulk_update`` send no signals, so without this a
    deactivated user's access tokens (checked statelessly) would live on.
    Whatever the value given (``False``, ``Value(False)``, any expression),
    the users who were active before and are not after are the ones ended.
    """

    def update(self, **fields):
        if "is_active" not in fields:
            return super().update(**fields)
        from accounts.deactivation import ending_access_of_deactivated

        with ending_access_of_deactivated(self):
            return super().update(**fields)

    def bulk_update(self, objs, fields, batch_size=None):
        if "is_active" not in fields:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        from accounts.deactivation import ending_access_of_deactivated

        objs = list(objs)
        with ending_access_of_deactivated(self.model._base_manager.filter(pk__in=[obj.pk for obj in objs])):
            return super().bulk_update(objs, fields, batch_size=batch_size)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email: str):
        return self.get(email=normalize_email(email))


AVATAR_EXTENSIONS = ("png", "jpg", "webp", "gif")


def avatar_path(user: "User", filename: str) -> str:
    # The stored name is generated; the client's filename is never used.
    from uuid import uuid4

    # Only an extension FlowAuth chose itself is kept (it sets the served content type).
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    suffix = f".{extension}" if extension in AVATAR_EXTENSIONS else ""
    return f"avatars/{user.pk}/{uuid4().hex}{suffix}"


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(max_length=254, unique=True)
    username = models.CharField(max_length=150, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    avatar = models.ImageField(upload_to=avatar_path, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_verified = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @classmethod
    def normalize_username(cls, username: str) -> str:
        """Django's hook for the login name's one form: project code outside accounts calls this."""
        return normalize_email(username)

    def clean(self) -> None:
        super().clean()
        validate_email_characters(self.email)  # the admin's forms: a field error, as the API's 400
        self.email = normalize_email(self.email)


from accounts.models_recovery import VerificationCode  # noqa: E402,F401  (one-time codes: accounts/codes.py)
