"""Moving users in from another system, with their existing bcrypt hashes.

A bcrypt hash (``$2a$``, ``$2b$``, ``$2y$``) is stored as Django's
``bcrypt$<hash>``: the user logs in with the old password, and Django's
upgrade-on-login (``check_password``'s setter) rewrites it as Argon2id.
Rows are validated first; each batch is one transaction.
"""

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.dateparse import parse_datetime

from accounts.models import User, normalize_email, refused_email_characters

BCRYPT_HASH = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
_TRUE, _FALSE = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f", ""}


class RowError(ValueError):
    """A row that cannot be imported; the message says why (never the hash)."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(row number, row) pairs from a .json (a list of objects) or .csv file (with a header)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data.get("users")
        if not isinstance(data, list):
            raise RowError("a JSON import file holds a list of user objects")
        yield from enumerate(data, start=1)
    elif suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            yield from enumerate(csv.DictReader(handle), start=2)  # line 1 is the header
    else:
        raise RowError("the file must end in .json or .csv")


def _bool(value) -> bool:
    if isinstance(value, bool) or value is None:
        return True if value is None else value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise RowError(f"is_active is not a boolean: {value!r}")


def _datetime(value) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value).strip())
    if parsed is None:
        raise RowError(f"date_joined is not an ISO 8601 date-time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(row: dict, name: str, limit: int = 150) -> str:
    value = row.get(name) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise RowError(f"{name} must be text of at most {limit} characters")
    return value.strip()


def clean_row(row) -> dict:
    """Validated model fields for one row; raises RowError."""
    if not isinstance(row, dict):
        raise RowError("a row must be an object")
    raw_email = row.get("email") if isinstance(row.get("email"), str) else ""
    if refused_email_characters(raw_email):
        raise RowError("invalid email")
    email = normalize_email(raw_email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise RowError("invalid email") from exc
    password_hash = row.get("password_hash")
    if not isinstance(password_hash, str) or not BCRYPT_HASH.match(password_hash.strip()):
        raise RowError("password_hash is not a bcrypt hash ($2a$, $2b$ or $2y$)")
    cleaned = {
        "email": email,
        "password": "bcrypt$" + password_hash.strip(),
        "username": _text(row, "username"),
        "first_name": _text(row, "first_name"),
        "last_name": _text(row, "last_name"),
        "is_active": _bool(row.get("is_active")),
    }
    if row.get("email_verified") not in (None, ""):  # the source's verified state is kept; absent: unverified
        try:
            cleaned["email_verified"] = _bool(row.get("email_verified"))
        except RowError as exc:
            raise RowError(f"email_verified is not a boolean: {row.get('email_verified')!r}") from exc
    joined = _datetime(row.get("date_joined"))
    if joined is not None:
        cleaned["date_joined"] = joined
    return cleaned


def import_users(
    rows: Iterable[tuple[int, dict]], *, update_existing: bool = False, dry_run: bool = False, batch_size: int = 500
) -> ImportReport:
    """Create (or with ``update_existing`` update) users from rows; invalid rows are reported.

    Idempotent: an email already present is skipped unless ``update_existing``.
    Each batch commits or rolls back as a whole; ``dry_run`` writes nothing.
    """
    report, batch, seen = ImportReport(), [], set()
    for number, row in rows:
        try:
            cleaned = clean_row(row)
        except RowError as exc:
            report.errors.append((number, str(exc)))
            continue
        if cleaned["email"] in seen:
            report.errors.append((number, "email appears twice in the file"))
            continue
        seen.add(cleaned["email"])
        batch.append(cleaned)
        if len(batch) >= batch_size:
            _import_batch(batch, report, update_existing=update_existing, dry_run=dry_run)
            batch = []
    if batch:
        _import_batch(batch, report, update_existing=update_existing, dry_run=dry_run)
    return report


def _import_batch(batch: list[dict], report: ImportReport, *, update_existing: bool, dry_run: bool) -> None:
    with transaction.atomic():
        existing = {user.email: user for user in User.objects.filter(email__in=[row["email"] for row in batch])}
        new = [User(**row) for row in batch if row["email"] not in existing]
        updates = [row for row in batch if row["email"] in existing]
        if not update_existing:
            report.skipped += len(updates)
            updates = []
        if not dry_run:
            User.objects.bulk_create(new)
            for row in updates:
                user = existing[row["email"]]
                for name, value in row.items():
                    setattr(user, name, value)
                user.save()
        report.created += len(new)
        report.updated += len(updates)
