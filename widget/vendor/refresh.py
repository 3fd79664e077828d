"""Vendors socket.io-client's browser build (ES module) from the npm registry.

    python3 widget/vendor/refresh.py 4.8.4

Runs `npm view` (tarball URL and sha512 integrity) and `npm pack` in a
temporary folder, refuses a tarball whose sha512 differs from the registry's,
copies dist/socket.io.esm.min.js and the LICENSE (as .txt, so serve.py
publishes it beside the code) here unchanged and rewrites manifest.json
(version, tarball, integrity, the files' sha256), which
tests/test_widget_static.py checks. Then update the table in README.md (the
test fails until it quotes the new version and hashes) and run the widget tests.
Only the standard library and npm.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent
PACKAGE = "socket.io-client"
# file here -> its path inside the npm tarball
FILES = {
    "socket.io.esm.min.js": "package/dist/socket.io.esm.min.js",
    "LICENSE-socket.io-client.txt": "package/LICENSE",
}


def npm(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["npm", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def sha512_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def refresh(version: str) -> dict:
    spec = f"{PACKAGE}@{version}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        info = json.loads(
            npm("view", spec, "version", "dist.tarball", "dist.integrity", "--json", cwd=work)
        )
        if info.get("version") != version:
            raise SystemExit(f"npm has no {spec} (exact versions only)")
        filename = json.loads(npm("pack", spec, "--json", cwd=work))[0]["filename"]
        tarball = (work / filename).read_bytes()
        if sha512_integrity(tarball) != info["dist.integrity"]:
            raise SystemExit(f"{filename}: sha512 differs from the registry's integrity")
        files = {}
        with tarfile.open(work / filename) as archive:
            for name, member in FILES.items():
                data = archive.extractfile(member).read()
                (VENDOR_DIR / name).write_bytes(data)
                files[name] = {"from": member, "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "package": PACKAGE,
        "version": version,
        "tarball": info["dist.tarball"],
        "integrity": info["dist.integrity"],
        "files": files,
    }
    (VENDOR_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(json.dumps(refresh(sys.argv[1]), indent=2))
