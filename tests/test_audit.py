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
    found = audit.findings({"aiohttp": "3.9.1", "werkzeug": "3.1.9"}, snapshot)
    assert [f[2] for f in found if f[0] == "aiohttp"] == ["PYSEC-2024-24", "PYSEC-2024-26"]
    assert not [f for f in found if f[0] == "werkzeug"]


def test_a_new_advisory_fails_the_check_until_it_is_accepted(tmp_path):
    snapshot = json.loads(audit.SNAPSHOT.read_text())
    snapshot["advisories"].append(ADVISORY)
    (tmp_path / "snap.json").write_text(json.dumps(snapshot))
    (tmp_path / "ok.yml").write_text("accepted: []\n")
    new, _, _, _ = audit.check(audit.LOCK, tmp_path / "snap.json", tmp_path / "ok.yml")
    assert [f[2] for f in new] == ["PYSEC-9999-1"]
    accepted = {"accepted": [{"id": "PYSEC-9999-1", "package": "sanic", "reason": "test"}]}
    (tmp_path / "ok.yml").write_text(yaml.safe_dump(accepted))
    new, old, _, _ = audit.check(audit.LOCK, tmp_path / "snap.json", tmp_path / "ok.yml")
    assert not new and [f[2] for f in old] == ["PYSEC-9999-1"]


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
