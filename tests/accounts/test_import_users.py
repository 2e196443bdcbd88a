"""import_users: bcrypt hashes move in, log in with the old password, upgrade to Argon2id."""

import csv
import io
import json

import bcrypt
import pytest
from django.core.management import call_command

from accounts.models import User
from tests.helpers import error_code

pytestmark = pytest.mark.django_db

OLD_PASSWORD = "old system password 42"


def _hash(password: str = OLD_PASSWORD, prefix: bytes = b"2b") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()
    return hashed


def _row(email: str, **extra) -> dict:
    return {
        "email": email,
        "password_hash": _hash(),
        "username": "u",
        "first_name": "Ada",
        "last_name": "L",
        "is_active": True,
        "date_joined": "2019-05-01T10:00:00Z",
        **extra,
    }


def _run(path, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_users", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _json_file(tmp_path, rows) -> "Path":  # noqa: F821
    path = tmp_path / "users.json"
    path.write_text(json.dumps(rows))
    return path


def _login(api, email, password=OLD_PASSWORD):
    return api.post("/api/auth/login", {"email": email, "password": password}, format="json")


@pytest.mark.parametrize("prefix", ["2a", "2b", "2y"])
def test_an_imported_user_logs_in_with_the_old_password_and_is_upgraded(api, tmp_path, prefix):
    row = _row("Old@Example.com")
    row["password_hash"] = "$" + prefix + _hash()[3:]  # 2y/2a/2b: the same algorithm, PHP/OpenBSD labels
    out, _ = _run(_json_file(tmp_path, [row]))
    assert "created 1" in out
    user = User.objects.get(email="old@example.com")
    assert user.password.startswith(f"bcrypt${'$'}{prefix}$")
    assert user.date_joined.year == 2019 and user.first_name == "Ada"
    assert _login(api, "old@example.com").status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert _login(api, "old@example.com").status_code == 200


def test_a_wrong_password_does_not_upgrade_the_hash(api, tmp_path):
    _run(_json_file(tmp_path, [_row("wrong@example.com")]))
    before = User.objects.get(email="wrong@example.com").password
    response = _login(api, "wrong@example.com", "not the old password")
    assert response.status_code == 401 and error_code(response) == "invalid_credentials"
    assert User.objects.get(email="wrong@example.com").password == before


def test_a_password_over_72_bytes_is_a_mismatch_not_a_500(api, tmp_path):
    _run(_json_file(tmp_path, [_row("long@example.com")]))
    assert _login(api, "long@example.com", "x" * 100).status_code == 401


def test_csv_import_with_bad_rows_reported_not_crashed(tmp_path):
    path = tmp_path / "users.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(_row("a@example.com")))
        writer.writeheader()
        writer.writerow(_row("good@example.com", is_active="false"))
        writer.writerow(_row("not-an-email"))
        writer.writerow(_row("md5@example.com", password_hash="5f4dcc3b5aa765d61d8327deb882cf99"))
        writer.writerow(_row("pbkdf2@example.com", password_hash="pbkdf2_sha256$1$salt$abc"))
        writer.writerow(_row("date@example.com", date_joined="yesterday"))
        writer.writerow(_row("good@example.com"))
    out, err = _run(path)
    assert "created 1" in out and "rejected 5" in out
    assert [line.split(":")[0] for line in err.splitlines()] == ["row 3", "row 4", "row 5", "row 6", "row 7"]
    assert "5f4dcc3b" not in err and "$04$" not in err  # no hash echoed
    assert list(User.objects.values_list("email", "is_active")) == [("good@example.com", False)]


def test_import_is_idempotent_and_updates_only_with_the_flag(tmp_path):
    path = _json_file(tmp_path, [_row("same@example.com", first_name="One")])
    _run(path)
    out, _ = _run(path)
    assert "created 0, updated 0, skipped 1" in out
    path = _json_file(tmp_path, [_row("same@example.com", first_name="Two")])
    out, _ = _run(path, "--update-existing")
    assert "updated 1" in out
    assert User.objects.get().first_name == "Two"
    assert User.objects.count() == 1


def test_dry_run_writes_nothing(tmp_path):
    out, _ = _run(_json_file(tmp_path, [_row("dry@example.com")]), "--dry-run")
    assert "would have created 1" in out
    assert not User.objects.exists()


def test_each_batch_is_one_transaction(tmp_path, monkeypatch):
    from accounts import importing

    calls = []
    original = User.objects.bulk_create

    def failing_second_batch(objs, *args, **kwargs):
        calls.append(len(objs))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(User.objects, "bulk_create", failing_second_batch)
    rows = list(enumerate([_row(f"user{i}@example.com") for i in range(5)], start=1))
    with pytest.raises(RuntimeError):
        importing.import_users(rows, batch_size=2)
    assert sorted(User.objects.values_list("email", flat=True)) == ["user0@example.com", "user1@example.com"]


def test_an_unknown_extension_is_a_command_error(tmp_path):
    from django.core.management import CommandError

    path = tmp_path / "users.xml"
    path.write_text("<users/>")
    with pytest.raises(CommandError):
        _run(path)
