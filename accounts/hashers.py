"""Password hashers: Argon2id first; bcrypt hashes from older systems verified and upgraded.

Argon2id parameters: m = 19 MiB, t = 2, p = 1, OWASP's first recommended
configuration. Django's default (m = 100 MiB, p = 8) multiplies memory by
every concurrent login; this keeps a burst of logins within a worker's means.
"""

from django.contrib.auth import hashers


class FlowAuthArgon2PasswordHasher(hashers.Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19456
    parallelism = 1


class _SafeBCryptMixin:
    """bcrypt >= 5 raises on passwords over 72 bytes: that is a mismatch, not a 500."""

    def verify(self, password, encoded):
        try:
            return super().verify(password, encoded)
        except ValueError:
            return False

    def harden_runtime(self, password, encoded):
        try:
            super().harden_runtime(password, encoded)
        except ValueError:
            pass


class LegacyBCryptSHA256PasswordHasher(_SafeBCryptMixin, hashers.BCryptSHA256PasswordHasher):
    pass


class LegacyBCryptPasswordHasher(_SafeBCryptMixin, hashers.BCryptPasswordHasher):
    pass
