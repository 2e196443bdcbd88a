"""Re-normalise stored emails: NFKC, case-folded as a whole (accounts.models.normalize_email).

Rows stored before were only trimmed and lower-cased. A row whose new form
is already another account's is left as it was and logged: merging two
accounts is a decision for a person, not a migration.
"""

import logging
import unicodedata

from django.db import migrations

logger = logging.getLogger("flowauth.migrations")


def _normalize(email: str) -> str:
    # A copy, not an import: this migration must keep doing what it did when it was written.
    text = unicodedata.normalize("NFKC", (email or "").strip())
    return unicodedata.normalize("NFKC", text.casefold())


def normalize_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    rows = list(User.objects.using(schema_editor.connection.alias).values_list("pk", "email"))
    taken = {email.lower() for _, email in rows}  # the unique constraint is on Lower(email)
    for pk, email in rows:
        normal = _normalize(email)
        if normal == email:
            continue
        if normal in taken:
            logger.warning("email not normalised: user=%s collides with another account's address", pk)
            continue
        User.objects.using(schema_editor.connection.alias).filter(pk=pk).update(email=normal)
        taken.discard(email.lower())
        taken.add(normal.lower())


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(normalize_emails, migrations.RunPython.noop, elidable=True)]
