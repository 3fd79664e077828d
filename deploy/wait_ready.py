#!/usr/bin/env python3
"""Waits until a URL answers 200, or fails: `systemctl start` of a unit returns
only once its server really serves (ExecStartPost in deploy/systemd/), which
makes restarting the replicas one after the other a rolling restart.

    python deploy/wait_ready.py http://127.0.0.1:5005/webhooks/rest/ --timeout 280
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="wait until URL answers 200")
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=280, help="seconds (default 280)")
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while not ready(args.url):
        if time.monotonic() >= deadline:
            print(f"{args.url} not ready after {args.timeout:.0f}s", file=sys.stderr)
            return 1
        time.sleep(args.interval)
    print(f"{args.url} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
