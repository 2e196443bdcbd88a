"""A sibling service verifies FlowAuth tokens with the installed wheel, not with a copy of tokens/.

The wheel (``FLOWAUTH_WHEEL``, or one built here with ``pip wheel``) is installed
with its ``[verifier]`` extra into a fresh virtual environment that cannot see this
checkout; the sibling project of tests/sibling/ runs there against the test Redis.
See docs/sibling-services.md.
"""

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests import signing
from tests.helpers import bearer, login
from tokens import keys

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE, ISSUER = "orders", "https://auth.example.test"

# Runs inside the fresh environment: Django's test client against the sibling's URLconf.
CHECK = """
import json, sys
import django
django.setup()
import tokens
from django.test import Client
client = Client(HTTP_HOST="localhost")
answers = []
for token in json.loads(sys.argv[1]):
    response = client.get("/orders", HTTP_AUTHORIZATION="Bearer " + token)
    answers.append({"status": response.status_code, "body": response.json(),
                    "www_authenticate": response.headers.get("WWW-Authenticate", "")})
print(json.dumps({"tokens_module": tokens.__file__, "answers": answers}))
"""


def _wheel(tmp: Path) -> Path:
    given = os.environ.get("FLOWAUTH_WHEEL")
    if given:
        return Path(given).resolve()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp), str(ROOT)],
        check=True,
        cwd=tmp,
    )
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    (built,) = tmp.glob("flowauth-*.whl")
    return built


@pytest.fixture(scope="module")
def verifier_env(tmp_path_factory):
    """(python of a fresh venv holding flowauth[verifier], a project directory holding only the sibling)."""
    base = tmp_path_factory.mktemp("verifier")
    wheel = _wheel(base)
    venv.create(base / "venv", with_pip=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[verifier]"], check=True, cwd=base)
    project = base / "project"
    shutil.copytree(
        ROOT / "tests" / "sibling", project / "tests" / "sibling", ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "tests" / "__init__.py").write_text("")
    (project / "check.py").write_text(CHECK)
    return python, project, wheel


def _sibling(verifier_env, flowauth_settings, *tokens_: str) -> dict:
    python, project, _ = verifier_env
    key = signing.private_key("ES256", "wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.sibling.settings",
            "SIBLING_SECRET_KEY": "sibling-test-only-" + "w" * 40,
            "FLOWAUTH_ALGORITHM": "ES256",
            "FLOWAUTH_PUBLIC_KEYS": json.dumps({signing.kid_of(key, "ES256"): keys.public_pem(key.public_key())}),
            "FLOWAUTH_REDIS_URL": flowauth_settings.FLOWAUTH_TOKENS["REDIS_URL"],
            "FLOWAUTH_AUDIENCE": AUDIENCE,
            "FLOWAUTH_ISSUER": ISSUER,
        }
    )
    done = subprocess.run(
        [str(python), "check.py", json.dumps(list(tokens_))],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.live_server_process
@pytest.mark.django_db
def test_the_installed_verifier_accepts_a_flowauth_token_and_refuses_it_after_logout(
    verifier_env, api, user, settings, token_settings
):
    token_settings(**signing.config("ES256", "wheel"), AUDIENCE=AUDIENCE, ISSUER=ISSUER)
    access = login(api, user.email)["access"]

    before = _sibling(verifier_env, settings, access)
    python, project, wheel = verifier_env
    installed = Path(before["tokens_module"]).resolve()
    assert python.parent.parent in installed.parents, installed  # the wheel's copy, in the fresh venv
    assert ROOT not in installed.parents
    assert before["answers"] == [
        {
            "status": 200,
            "body": {"user_id": str(user.pk), "session_id": before["answers"][0]["body"]["session_id"]},
            "www_authenticate": "",
        }
    ]
    assert before["answers"][0]["body"]["session_id"]

    assert api.post("/api/auth/logout", **bearer(access)).status_code == 204
    forged = signing.hs256_with_raw_secret(access, settings.SECRET_KEY.encode())
    after = _sibling(verifier_env, settings, access, forged)["answers"]
    assert [a["status"] for a in after] == [401, 401]
    assert after[0]["body"]["code"] == "session_revoked"
    assert 'error="invalid_token"' in after[0]["www_authenticate"]
    assert after[1]["body"]["code"] == "token_invalid"
    assert access not in json.dumps(after)


def test_the_wheel_holds_the_three_packages_and_declares_both_extras(verifier_env):
    import zipfile

    _, _, wheel = verifier_env
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for package in ("flowauth", "accounts", "tokens"):
        assert f"{package}/__init__.py" in names
    assert "tokens/migrations/0001_initial.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]
    assert "Provides-Extra: verifier" in metadata and "Provides-Extra: server" in metadata
    assert 'Requires-Dist: djangorestframework-simplejwt==5.5.1; extra == "verifier"' in metadata
