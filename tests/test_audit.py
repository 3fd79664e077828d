"""`make audit` (issue 21): the lock against the stored advisory snapshot, offline. A
pin moved into an affected version, or a new advisory in a refreshed snapshot, fails
here (so in CI) until it is upgraded or assessed in security/audit-accepted.yml."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import yaml

from servers import PROJECT_ROOT

spec = importlib.util.spec_from_file_location(
    "audit_deps", PROJECT_ROOT / "scripts" / "audit_deps.py"
)
audit = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = audit
spec.loader.exec_module(audit)

ADVISORY = {
    "id": "PYSEC-9999-1",
    "aliases": ["CVE-9999-0001"],
    "modified": "2026-12-07",
    "summary": "a made-up advisory for the test",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "sanic"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
        }
    ],
}


def test_no_unassessed_advisory_affects_the_lock():
    new, _, stale, source = audit.check()
    assert source.get("commit"), "the snapshot records where it came from"
    assert not new, f"advisories to assess (make audit): {new}"
    assert not stale, f"accepted but no longer found: {stale}"


def test_a_pin_moved_into_an_affected_version_is_found():
    snapshot = json.loads(audit.SNAPSHOT.read_text())
    found = audit.findings({"aiohttp": "3.9.1", "werkzeug": "3.1.9", "sanic": "21.12.1"}, snapshot)
    assert [f[2] for f in found if f[0] == "aiohttp"] == [
        "GHSA-8495-4g3g-x7pr",
        "GHSA-9548-qrrj-x5pj",
        "PYSEC-2024-24",
        "PYSEC-2024-26",
    ]
    assert not [f for f in found if f[0] == "werkzeug"]
    # the %2F static-file traversal: fixed in the locked 21.12.2, found in 21.12.1
    assert [f[2] for f in found if f[0] == "sanic"] == ["GHSA-8cw9-5hmv-77w6"]


# The known advisories of the versions Rasa 3.6 pins (SECURITY.md, "Dependencies with
# known vulnerabilities"): the snapshot must hold them, and each is listed as accepted.
RASA_PINNED = {
    "GHSA-8495-4g3g-x7pr": "aiohttp",
    "GHSA-9548-qrrj-x5pj": "aiohttp",
    "GHSA-8qvm-5x2c-j2w7": "protobuf",
    "GHSA-gjh7-xx4r-x345": "tensorflow",
}


def test_the_known_advisories_of_the_rasa_pins_are_reported_and_assessed():
    new, old, _, _ = audit.check()
    assert not new
    assert {f[2]: f[0] for f in old} == RASA_PINNED
    known = audit.accepted()
    for advisory in RASA_PINNED:
        entry = known[advisory]
        assert entry["reachable"] is False and len(entry["reason"]) > 80, advisory
        assert entry["until"].startswith("Rasa upgrade"), advisory


def test_the_snapshot_keeps_the_ghsa_records_of_the_project():
    snapshot = json.loads(audit.SNAPSHOT.read_text())
    ids = {r["id"] for r in snapshot["advisories"]}
    kept = {p.stem for p in audit.GHSA_RECORDS.glob("*.json")}
    assert kept >= set(RASA_PINNED) and kept <= ids
    folders = [f["folder"] for f in snapshot["source"]["folders"]]
    assert "security/ghsa" in folders


@pytest.mark.parametrize("field", ["reachable", "reason", "until"])
def test_an_accepted_entry_must_say_if_it_is_reachable_why_and_until_when(tmp_path, field):
    entry = {
        "id": "GHSA-8495-4g3g-x7pr",
        "package": "aiohttp",
        "reachable": False,
        "reason": "no aiohttp server",
        "until": "Rasa upgrade",
    }
    del entry[field]
    (tmp_path / "acc.yml").write_text(yaml.safe_dump({"accepted": [entry]}))
    with pytest.raises(ValueError, match=field):
        audit.check(audit.LOCK, audit.SNAPSHOT, tmp_path / "acc.yml")


def test_what_the_acceptances_rely_on_still_holds():
    """The aiohttp and protobuf advisories need their pure-Python parsers; the
    installed wheels use the compiled ones, and no aiohttp server runs here."""
    import aiohttp.http_parser
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() != "python"
    assert aiohttp.http_parser.HttpRequestParser.__module__ == "aiohttp._http_parser"
    for folder in ("actions", "channels", "stores", "console", "widget", "settings"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "aiohttp import web" not in text and "aiohttp.web" not in text, path


def test_a_new_advisory_fails_the_check_until_it_is_accepted(tmp_path):
    snapshot = json.loads(audit.SNAPSHOT.read_text())
    snapshot["advisories"].append(ADVISORY)
    (tmp_path / "snap.json").write_text(json.dumps(snapshot))
    accepted = yaml.safe_load(audit.ACCEPTED.read_text())
    (tmp_path / "ok.yml").write_text(yaml.safe_dump(accepted))
    new, _, _, _ = audit.check(audit.LOCK, tmp_path / "snap.json", tmp_path / "ok.yml")
    assert [f[2] for f in new] == ["PYSEC-9999-1"]
    accepted["accepted"].append(
        {
            "id": "PYSEC-9999-1",
            "package": "sanic",
            "reachable": True,
            "reason": "test",
            "until": "never",
        }
    )
    (tmp_path / "ok.yml").write_text(yaml.safe_dump(accepted))
    new, old, _, _ = audit.check(audit.LOCK, tmp_path / "snap.json", tmp_path / "ok.yml")
    assert not new and "PYSEC-9999-1" in [f[2] for f in old]


@pytest.mark.parametrize("layout", ["pypa", "osv-json"])
def test_refresh_reads_a_database_checkout(tmp_path, layout):
    source = tmp_path / "db"
    if layout == "pypa":
        folder = source / "vulns" / "sanic"
        folder.mkdir(parents=True)
        (folder / "PYSEC-9999-1.yaml").write_text(yaml.safe_dump(ADVISORY))
    else:
        folder = source / "advisories" / "github-reviewed" / "9999"
        folder.mkdir(parents=True)
        (folder / "GHSA-x.json").write_text(json.dumps(ADVISORY))
    out = tmp_path / "snap.json"
    assert audit.refresh([source], audit.LOCK, out) == 1
    found = audit.findings(audit.locked(), json.loads(out.read_text()))
    assert [f[2] for f in found] == ["PYSEC-9999-1"]
