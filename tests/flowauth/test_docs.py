"""The documentation stays true to the repository: links resolve, docs/api.md's paths
exist, docs/security.md cites only tests that exist, and the README stays short."""

import ast
import re
import unicodedata
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# `POST /api/auth/login`, `GET /api/auth/sessions`, `PATCH`, `DELETE /api/auth/sessions/{id}` ...
ENDPOINT = re.compile(r"`(?:(?:GET|POST|PUT|PATCH|DELETE)\s+)(/[^`\s]*)`")
NODE_ID = re.compile(r"`(tests/[\w/]+\.py(?:::[\w\[\]-]+)*)`")


def _without_code_blocks(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.S)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = "".join(c for c in text if c in " -" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _without_code_blocks(path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, flags=re.M)}


def _links():
    for doc in DOCS:
        for target in LINK.findall(_without_code_blocks(doc.read_text())):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # relative: no scheme
                yield pytest.param(doc, target, id=f"{doc.relative_to(ROOT)}->{target}")


@pytest.mark.parametrize("doc, target", list(_links()))
def test_every_relative_link_resolves(doc, target):
    path, _, anchor = target.partition("#")
    file = (doc.parent / path).resolve() if path else doc
    assert file.exists(), f"{doc.relative_to(ROOT)} links to {target}, which does not exist"
    if anchor:
        assert file.suffix == ".md", f"{target}: anchors only into Markdown"
        assert anchor in _anchors(file), f"{target}: no such heading in {file.relative_to(ROOT)}"


def test_the_link_checker_sees_links_and_anchors():
    assert len(list(_links())) > 20
    assert _slug("Signing keys and JWKS") == "signing-keys-and-jwks"
    assert _slug("Revocation and introspection (RFC 7009 / 7662)") == "revocation-and-introspection-rfc-7009--7662"


def _api_paths() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    paths = {m.group(1) for m in ENDPOINT.finditer(text)}
    # the endpoint table's own rows: `GET /api/auth/profile`, `PATCH`, `PUT` and `/admin/` cells
    paths |= set(re.findall(r"^\| `(/[^`\s]*)`", text, flags=re.M))
    return sorted(paths)


@pytest.mark.parametrize("path", _api_paths())
def test_every_endpoint_in_the_api_doc_exists_in_the_urlconf(path):
    concrete = re.sub(r"\{[^}]+\}", "0123456789abcdef", path).replace("...", "x.png")
    try:
        match = resolve(concrete)
    except Resolver404:
        pytest.fail(f"docs/api.md names {path}, which the URLconf does not route")
    assert match.func.__name__ != "catch_all_view", path


def _routes(patterns=None, prefix=""):
    from django.urls import URLPattern, URLResolver, get_resolver

    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).rstrip("/")


def test_the_api_doc_names_every_api_route():
    """Read from the URLconf: a route added without a row in docs/api.md fails here."""
    documented = {p.rstrip("/") for p in _api_paths()}
    routes = sorted({r for r in _routes() if r.startswith(("/api/", "/.well-known/")) and "(?P" not in r})
    assert "/api/auth/login" in routes  # the walk itself works
    assert [route for route in routes if route not in documented] == []


def _collected_node_ids() -> set[str]:
    ids = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        rel = path.relative_to(ROOT).as_posix()
        ids.add(rel)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                ids.add(f"{rel}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                ids |= {
                    f"{rel}::{node.name}::{sub.name}"
                    for sub in node.body
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name.startswith("test")
                }
    return ids


def test_every_test_cited_in_the_security_doc_exists():
    cited = set(NODE_ID.findall((ROOT / "docs" / "security.md").read_text()))
    assert len(cited) > 100
    missing = sorted(cited - _collected_node_ids())
    assert not missing, f"docs/security.md cites tests that do not exist: {missing}"


def test_every_security_case_has_a_verdict():
    rows = [
        line
        for line in (ROOT / "docs" / "security.md").read_text().splitlines()
        if re.match(r"\| [A-Z]+-\d\d \|", line)
    ]
    assert len(rows) == len({row.split("|")[1] for row in rows}) > 150
    for row in rows:
        verdict = row.rstrip(" |").rsplit("|", 1)[1].strip()
        assert verdict.startswith(("covered", "partly covered", "not covered")), row
        tests = row.split("|")[4]
        assert (tests.strip() == "—") == verdict.startswith("not covered"), row


def test_the_readme_stays_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines < 260, f"README.md has {lines} lines: move detail into docs/"


@pytest.mark.parametrize("name", ["API.md", "DESIGN.md", "SECURITY.md"])
def test_nothing_cites_files_that_are_not_in_the_repository(name):
    citing = [
        p.relative_to(ROOT).as_posix()
        for p in [*DOCS, *(ROOT / "tests").rglob("*.py")]
        if p != Path(__file__).resolve() and re.search(rf"(?<![\w/]){re.escape(name)}", p.read_text())
    ]
    assert not citing, f"{name} is not in the repository, yet cited by {citing}"


def _error_table_codes() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    table = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return {
        code
        for code in re.findall(r"`([a-z]+(?:_[a-z]+)+|[a-z]+)`", table)
        if code not in ("error", "detail", "code", "token", "error_description")
    }


def test_every_error_code_in_the_api_doc_is_one_the_code_can_answer():
    import rest_framework

    sources = [p.read_text() for package in ("flowauth", "accounts", "tokens") for p in (ROOT / package).rglob("*.py")]
    sources += [p.read_text() for p in Path(rest_framework.__file__).parent.rglob("*.py")]
    codes = _error_table_codes()
    assert {"token_invalid", "session_revoked", "auth_unavailable"} <= codes
    unknown = sorted(c for c in codes if not any(f"'{c}'" in s or f'"{c}"' in s for s in sources))
    assert not unknown, f"docs/api.md lists error codes nothing answers: {unknown}"


def test_every_test_file_the_docs_name_exists():
    known = _collected_node_ids()
    named = {(doc.relative_to(ROOT).as_posix(), ref) for doc in DOCS for ref in NODE_ID.findall(doc.read_text())}
    assert len(named) > 100
    missing = sorted((doc, ref) for doc, ref in named if ref not in known)
    assert not missing, f"named in the docs but not in tests/: {missing}"


def _endpoint_rows():
    text = (ROOT / "docs" / "api.md").read_text()
    table = text.split("## Endpoints", 1)[1].split("\n## ", 1)[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        methods = re.findall(r"\b(GET|POST|PUT|PATCH|DELETE)\b", cells[0])
        paths = re.findall(r"`(?:[A-Z]+ )?(/[^`\s]*)`", cells[0])
        statuses = {int(s) for s in re.findall(r"\b([1-5]\d\d)\b", cells[2])}
        for path in paths:
            for method in methods:
                yield path, method.lower(), statuses


@pytest.fixture(scope="module")
def openapi_document(tmp_path_factory, django_db_blocker):
    import yaml
    from django.core.management import call_command

    target = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(target))
    return yaml.safe_load(target.read_text())


def test_every_status_in_the_api_doc_is_one_the_built_schema_declares(openapi_document):
    rows = list(_endpoint_rows())
    assert len(rows) > 20
    checked = 0
    for path, method, statuses in rows:
        operation = openapi_document["paths"].get(path, {}).get(method)
        if operation is None:  # not an API view (metrics, admin, media): routed, checked above
            continue
        declared = {int(s) for s in operation["responses"]}
        assert statuses <= declared, (
            f"docs/api.md: {method.upper()} {path} answers {sorted(statuses - declared)}, "
            f"which the built schema does not declare ({sorted(declared)})"
        )
        checked += 1
    assert checked > 15


def test_every_dotted_path_the_docs_configure_imports():
    """Settings snippets name classes and functions by dotted path: a move must update them."""
    from django.utils.module_loading import import_string

    named = {m for doc in DOCS for m in re.findall(r"\"((?:flowauth|accounts|tokens)\.[\w.]+\.\w+)\"", doc.read_text())}
    assert "tokens.authentication.FlowAuthAuthentication" in named
    for dotted in sorted(named):
        import_string(dotted)
