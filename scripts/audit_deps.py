"""`make audit`: the locked dependencies against a stored advisory snapshot, offline.

    .venv/bin/python scripts/audit_deps.py            # check (make audit; exit 1 on news)
    .venv/bin/python scripts/audit_deps.py refresh --from /path/to/advisory-database [--from ...]

Why not pip-audit: pip-audit asks a vulnerability service over the network for every
run (PyPI's JSON API or OSV's API; its cache only repeats answers it already got), so
it cannot check against a snapshot the project keeps, and it cannot be installed into
the project's environment either (pip-audit 2.x needs packaging >= 23; Rasa 3.6 pins
packaging 20.9). This script does the comparison pip-audit would do, offline:

- the snapshot, security/osv-snapshot.json, holds every advisory of the Python
  Packaging Advisory Database (github.com/pypa/advisory-database, OSV format, CC-BY 4.0)
  for the packages in requirements.lock, trimmed to what matching needs;
- `check` lists every advisory that affects a locked version (OSV ECOSYSTEM ranges, or
  the advisory's version list); those already assessed are in security/audit-accepted.yml
  with the reason they are accepted (reachable from the internet or not, the
  mitigation). An advisory that is neither fixed nor accepted fails the run, so a new
  CVE in a refreshed snapshot, or a pin moved into an affected version, shows up in CI
  (tests/test_audit.py runs the check in `make test`);
- the PyPA database holds the PYSEC advisories only; advisories published only as GHSA
  in github.com/github/advisory-database (among them the known ones of the versions Rasa
  3.6 pins: aiohttp 3.9, protobuf 4.23, TensorFlow 2.12) are kept as OSV JSON files in
  security/ghsa/, one per advisory, copied from that database (CC-BY 4.0) with the
  address they came from; `make audit-refresh` always reads that folder too;
- `refresh` rebuilds the snapshot from a checkout of that database and security/ghsa/:
      git clone --depth 1 https://github.com/pypa/advisory-database /tmp/advisory-database
      make audit-refresh ADVISORIES=/tmp/advisory-database
  (a checkout of github.com/github/advisory-database, 3 GB, adds every GHSA-only
  advisory: give it as another --from); then run `make audit`, assess what it reports,
  and commit the files;
- every entry of security/audit-accepted.yml must say whether the advisory is reachable
  from the internet here and why it is accepted; an entry without them fails the check.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
SNAPSHOT = ROOT / "security" / "osv-snapshot.json"
ACCEPTED = ROOT / "security" / "audit-accepted.yml"
GHSA_RECORDS = ROOT / "security" / "ghsa"
REQUIRED_FIELDS = ("id", "package", "reachable", "reason", "until")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: Path = LOCK) -> Dict[str, str]:
    out = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*\\?$", line)
        if match:
            out[norm(match.group(1))] = match.group(2)
    return out


def _version(text: str) -> Optional[Version]:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_range(version: Version, events: List[Dict[str, str]]) -> bool:
    """OSV ECOSYSTEM range: introduced / fixed / last_affected events, in order."""
    affected = False
    for event in events:
        if "introduced" in event:
            start = event["introduced"]
            if start == "0" or ((v := _version(start)) is not None and version >= v):
                affected = True
        elif "fixed" in event:
            v = _version(event["fixed"])
            if v is not None and version >= v:
                affected = False
        elif "last_affected" in event:
            v = _version(event["last_affected"])
            if v is not None and version > v:
                affected = False
    return affected


def affects(record: Dict, package: str, version_text: str) -> bool:
    version = _version(version_text)
    for affected in record.get("affected", []):
        if norm(affected.get("package", {}).get("name", "")) != package:
            continue
        if version_text in affected.get("versions", []):
            return True
        if version is not None:
            for rng in affected.get("ranges", []):
                if rng.get("type") == "ECOSYSTEM" and in_range(version, rng.get("events", [])):
                    return True
    return False


def findings(lock: Dict[str, str], snapshot: Dict) -> List[Tuple[str, str, str, List[str], str]]:
    """(package, version, advisory id, aliases, summary) for each advisory that
    affects a locked version."""
    found = []
    for record in snapshot["advisories"]:
        for affected in record.get("affected", []):
            package = norm(affected.get("package", {}).get("name", ""))
            if package in lock and affects(record, package, lock[package]):
                found.append(
                    (
                        package,
                        lock[package],
                        record["id"],
                        record.get("aliases", []),
                        record.get("summary", ""),
                    )
                )
                break
    return sorted(found)


def accepted(path: Path = ACCEPTED) -> Dict[str, Dict]:
    """The assessed advisories; an entry that does not say whether the advisory is
    reachable from the internet, why it is accepted and until when is refused."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = {}
    for entry in data.get("accepted", []):
        missing = [k for k in REQUIRED_FIELDS if entry.get(k) in (None, "")]
        if missing or not isinstance(entry.get("reachable"), bool):
            raise ValueError(
                f"{path.name}: {entry.get('id', '?')} needs {', '.join(REQUIRED_FIELDS)} "
                f"(reachable: true or false); missing {', '.join(missing) or 'reachable'}"
            )
        entries[entry["id"]] = entry
    return entries


def check(lock_path: Path = LOCK, snapshot_path: Path = SNAPSHOT, accepted_path: Path = ACCEPTED):
    """(new findings, accepted findings, accepted entries no longer found)."""
    snapshot = json.loads(snapshot_path.read_text(encoding="utf-8"))
    lock = locked(lock_path)
    known = accepted(accepted_path)
    found = findings(lock, snapshot)
    new = [f for f in found if f[2] not in known]
    old = [f for f in found if f[2] in known]
    stale = sorted(set(known) - {f[2] for f in found})
    return new, old, stale, snapshot.get("source", {})


def _trim(record: Dict, packages: Iterable[str]) -> Optional[Dict]:
    wanted = set(packages)
    affected = []
    for item in record.get("affected", []):
        name = norm(item.get("package", {}).get("name", ""))
        if item.get("package", {}).get("ecosystem") != "PyPI" or name not in wanted:
            continue
        ranges = [
            {"type": "ECOSYSTEM", "events": r.get("events", [])}
            for r in item.get("ranges", [])
            if r.get("type") == "ECOSYSTEM"
        ]
        entry = {"package": {"ecosystem": "PyPI", "name": name}, "ranges": ranges}
        if not ranges:  # only a list of versions to match
            entry["versions"] = item.get("versions", [])
        affected.append(entry)
    if not affected or record.get("withdrawn"):
        return None
    summary = record.get("summary") or (record.get("details") or "").strip().split("\n")[0]
    return {
        "id": record["id"],
        "aliases": record.get("aliases", []),
        "modified": str(record.get("modified", "")),
        "summary": summary[:200],
        "affected": affected,
    }


def _records(source: Path, packages: set) -> Iterable[Dict]:
    """OSV records of `source`: the PyPA database (vulns/<package>/*.yaml) or any
    folder of OSV JSON files, e.g. github.com/github/advisory-database (PyPI ones)."""
    vulns = source / "vulns"
    if vulns.is_dir():
        for package_dir in sorted(vulns.iterdir()):
            if norm(package_dir.name) in packages:
                for path in sorted(package_dir.glob("*.yaml")):
                    yield yaml.safe_load(path.read_text(encoding="utf-8"))
        return
    for path in sorted(source.rglob("*.json")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if '"PyPI"' in text:
            yield json.loads(text)


def _folder_name(source: Path) -> str:
    try:
        return str(source.resolve().relative_to(ROOT))
    except ValueError:
        return source.name


def refresh(sources: List[Path], lock_path: Path = LOCK, snapshot_path: Path = SNAPSHOT) -> int:
    packages = set(locked(lock_path))
    by_id: Dict[str, Dict] = {}
    aliases_seen: Dict[str, str] = {}
    origins = []
    for source in sources:
        for raw in _records(source, packages):
            record = _trim(raw, packages)
            if record is None or record["id"] in by_id:
                continue
            # the same advisory under another id (PYSEC and GHSA): keep the first
            names = [record["id"], *record["aliases"]]
            if any(name in aliases_seen for name in names):
                continue
            for name in names:
                aliases_seen[name] = record["id"]
            by_id[record["id"]] = record
        # the last commit of that folder (a checkout, or security/ghsa/ in this project)
        commit = subprocess.run(
            ["git", "-C", str(source), "log", "-1", "--format=%H %cI", "--", "."],
            capture_output=True,
            text=True,
        ).stdout.split()
        origins.append(
            {
                "folder": _folder_name(source),
                "commit": commit[0] if commit else "",
                "date": commit[1] if len(commit) > 1 else "",
            }
        )
    snapshot = {
        "source": {
            "database": "https://github.com/pypa/advisory-database, and GHSA-only records of "
            "https://github.com/github/advisory-database in security/ghsa/ (OSV format, CC-BY 4.0)",
            "commit": origins[0]["commit"] if origins else "",
            "date": origins[0]["date"] if origins else "",
            "folders": origins,
        },
        "advisories": sorted(by_id.values(), key=lambda r: r["id"]),
    }
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    snapshot_path.write_text(json.dumps(snapshot, indent=0, sort_keys=True) + "\n", "utf-8")
    return len(by_id)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    ref = sub.add_parser("refresh", help="rebuild the snapshot from an advisory-database checkout")
    ref.add_argument("--from", dest="sources", type=Path, action="append", required=True)
    args = parser.parse_args(argv)
    if args.command == "refresh":
        count = refresh(args.sources)
        print(f"{SNAPSHOT.relative_to(ROOT)}: {count} advisories for the locked packages")
        return 0
    new, old, stale, source = check()
    print(
        f"Advisory snapshot {source.get('commit', '?')[:12]} of {source.get('date', '?')}; "
        f"{len(old)} known advisories accepted (security/audit-accepted.yml)."
    )
    known = accepted()
    for package, version, advisory, aliases, summary in old:
        entry = known[advisory]
        where = "reachable from the internet" if entry["reachable"] else "not reachable"
        print(
            f"accepted  {package}=={version}  {advisory} {' '.join(aliases)}  {summary}\n"
            f"          {where}; until {entry['until']}: {' '.join(str(entry['reason']).split())}"
        )
    for package, version, advisory, aliases, summary in new:
        print(f"NEW  {package}=={version}  {advisory} {' '.join(aliases)}  {summary}")
    for advisory in stale:
        print(f"note: {advisory} no longer affects the lock; remove it from audit-accepted.yml")
    if new:
        print(f"{len(new)} advisories to assess: upgrade, or accept with a reason.")
        return 1
    print("No unassessed advisory affects requirements.lock.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
