"""Measurements on running variants (bench/variants.py): process start to first
answer, and load runs (bench/loadgen.py) with the server CPU time per message."""

from __future__ import annotations

import asyncio
import time
from typing import Dict, List, Optional

import requests

from conversations import conversations
from loadgen import TROUBLE, rest_load, socketio_load
from proc_stats import loadavg
from variants import Server


def wait_first_answer(rasa: Server, timeout: float, needs_real_answer: bool) -> Dict:
    """Seconds from process start until the webhook answers a patient message."""
    deadline = time.monotonic() + timeout
    probe = 0
    port_open_s = None
    while time.monotonic() < deadline:
        if rasa.proc.poll() is not None:
            raise RuntimeError(
                f"{rasa.name} exited with code {rasa.proc.returncode}; see {rasa.log}"
            )
        probe += 1
        try:
            r = requests.post(
                f"{rasa.url}/webhooks/rest/webhook",
                timeout=30,
                json={
                    "sender": f"startup-probe-{probe}",
                    "message": "what are the symptoms of a torn achilles?",
                },
            )
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if port_open_s is None:
            port_open_s = time.perf_counter() - rasa.started_at
        texts = " ".join(m.get("text") or "" for m in r.json()) if r.ok else ""
        if r.ok and texts and not (needs_real_answer and TROUBLE in texts):
            return {
                "start_to_first_answer_s": round(time.perf_counter() - rasa.started_at, 2),
                "start_to_port_open_s": round(port_open_s, 2),
                "probes": probe,
            }
        time.sleep(0.2)
    raise TimeoutError(f"{rasa.name}: no answer after {timeout:.0f}s; see {rasa.log}")


def load_run(
    transport: str,
    server: Server,
    extra: List[Server],
    level: int,
    n_convs: int,
    prefix: str,
    think_s=None,
    rest_p99_ms=None,
    silence_ok: bool = False,
    infra: Optional[List] = None,
) -> Dict:
    convs = conversations(n_convs, seed=level)
    before_cpu = server.cpu() + sum(s.cpu() for s in extra)
    before_infra = sum(s.cpu() for s in infra or [])
    load_before = loadavg()
    if transport == "rest":
        stats = asyncio.run(rest_load(server.url, convs, level, prefix, think_s=think_s))
    else:
        # a socket.io turn with no message within 3x the REST p99 (at least 5 s) has no reply
        wait = max(5.0, 3 * (rest_p99_ms or 20_000) / 1000)
        stats = asyncio.run(
            socketio_load(server.url, convs, level, reply_timeout=wait, silence_ok=silence_ok)
        )
    cpu = server.cpu() + sum(s.cpu() for s in extra) - before_cpu
    summary = stats.summary()
    summary["server_cpu_ms_per_msg"] = round(1000 * cpu / max(summary["messages"], 1), 1)
    if infra:  # PostgreSQL, Redis, nginx (SQLite's work is inside the Rasa process)
        summary["infra_cpu_ms_per_msg"] = round(
            1000 * (sum(s.cpu() for s in infra) - before_infra) / max(summary["messages"], 1), 1
        )
    summary["loadavg_1m_before"] = load_before
    summary["loadavg_1m_after"] = loadavg()
    return summary


def print_run(who: str, s: Dict) -> None:
    extra = f" last-reply p95 {s['last_reply_p95_ms']}ms" if "last_reply_p95_ms" in s else ""
    paced = " paced" if s.get("think_s") else ""
    print(
        f"  {who:11} {s['transport']:8} c={s['concurrency']:<3}{paced} msgs={s['messages']:<5} "
        f"p50={s['p50_ms']}ms p95={s['p95_ms']}ms p99={s['p99_ms']}ms "
        f"{s['messages_per_s']} msg/s errors={s['errors']} empty={s['empty_replies']} "
        f"cpu/msg={s['server_cpu_ms_per_msg']}ms"
        + (
            f" (+{s['infra_cpu_ms_per_msg']}ms PG/Redis/nginx)"
            if "infra_cpu_ms_per_msg" in s
            else ""
        )
        + f" load={s['loadavg_1m_before']}->{s.get('loadavg_1m_after')}{extra}",
        flush=True,
    )
    for example in s.get("error_examples", [])[:2]:
        print(f"              e.g. {example}")


def conversations_for(level: int, quick: bool) -> int:
    """Enough conversations for stable percentiles; at least one per worker."""
    if quick:
        return max(level, 4)
    return max(level, {1: 10, 10: 20, 50: 50}.get(level, level))
