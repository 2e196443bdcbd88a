from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.importing import RowError, import_users, read_rows


class Command(BaseCommand):
    help = (
        "Import users from a .json or .csv file (email, password_hash, username, first_name, "
        "last_name, is_active, date_joined) keeping their bcrypt hashes; upgraded to Argon2id on login."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--update-existing",
            action="store_true",
            help="update users whose email already exists (default: skip them)",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and count; write nothing")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, file: Path, update_existing: bool, dry_run: bool, batch_size: int, **options):
        if not file.exists():
            raise CommandError(f"{file} does not exist")
        try:
            report = import_users(
                read_rows(file), update_existing=update_existing, dry_run=dry_run, batch_size=batch_size
            )
        except (RowError, ValueError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        for number, reason in report.errors:
            self.stderr.write(f"row {number}: {reason}")
        prefix = "dry run: would have " if dry_run else ""
        self.stdout.write(
            f"{prefix}created {report.created}, updated {report.updated}, skipped {report.skipped}, "
            f"rejected {len(report.errors)}"
        )
