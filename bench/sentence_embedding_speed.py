"""Speed of the all-MiniLM-L6-v2 sentence encoder (nlu_components/sentence_embeddings/).

Prints the model load time and p50/p95 milliseconds per message for realistic
patient messages (short, ~5 words; typical, ~20 words; long, ~80 words), one
message per call as the Rasa server sees them, with the LRU cache off, and the
time per sentence for a batch of 48 (as in training). Both forward-pass
backends of the module are timed -- ONNX Runtime (the default) and NumPy (the
fallback) -- and checked to give the same vectors:

    .venv/bin/python bench/sentence_embedding_speed.py [--runs 50] [--threads 1]
        [--backend onnxruntime|numpy|all] [--max-load 1.5] [--json out.json]

--threads N: ONNX Runtime's intra-op threads and the OpenBLAS threads (NumPy)
while timing (default 1, as the assistant runs).
Timings on a shared machine vary with its load: before each timed series the
script waits (up to --max-wait seconds) until the 1-minute load average is
below --max-load, and prints the load with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu_components.sentence_embeddings import BACKENDS, MiniLMEncoder  # noqa: E402

MESSAGES = {
    "short (~5 words)": [
        "what are your opening hours?",
        "hi there",
        "can I drive with the boot?",
        "is swelling normal?",
        "thanks, bye",
    ],
    "typical (~20 words)": [
        "I had Achilles tendon surgery three weeks ago and my heel is swollen and warm, "
        "should I call the clinic today?",
        "My physio said I can start calf raises but it still hurts when I stand on "
        "tiptoe, is that normal at six weeks?",
        "Can I take the boot off at night to sleep or do I have to wear it all the time "
        "until my next appointment?",
        "I felt a pop in the back of my ankle playing basketball yesterday and now I "
        "can't push off when I walk.",
        "How long after the operation can I drive an automatic car if it was my left "
        "Achilles that was repaired?",
    ],
    "long (~80 words)": [
        "After my Achilles tendon repair surgery last month the surgeon told me to keep "
        "the boot on for six weeks, but now the back of my heel is swollen and warm, it "
        "hurts more at night than during the day, I have been taking ibuprofen twice a "
        "day with food, I sleep with my leg raised on two pillows, and I am wondering "
        "whether I should call the clinic today or wait until my follow-up appointment "
        "next Tuesday because the incision also looks a bit red.",
        "My physiotherapist said the exercises should start gently with ankle circles "
        "and towel stretches, then calf raises with both feet, then single leg raises, "
        "but I am not sure when to move from one stage to the next, whether I should do "
        "them before or after icing the area, how many repetitions are safe in the first "
        "week, and what I should do if the tendon feels sore the next morning, because "
        "last time I overdid it and it hurt for three days.",
    ],
}

BATCH = [m for ms in MESSAGES.values() for m in ms] * 4  # 48 sentences, mixed lengths


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_per_message(
    fn: Callable[[List[str]], np.ndarray], texts: Sequence[str], runs: int
) -> List[float]:
    for t in texts:  # warm-up
        fn([t])
    out = []
    for i in range(runs):
        t = texts[i % len(texts)]
        start = time.perf_counter()
        fn([t])
        out.append((time.perf_counter() - start) * 1e3)
    return out


def wait_for_load(max_load: float, max_wait: float) -> float:
    """Waits until the 1-minute load average is below max_load (or max_wait s passed)."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="timed calls per message kind")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="ONNX Runtime intra-op / OpenBLAS threads while timing",
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.5,
        help="wait for a 1-minute load average below this before timing",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=300,
        help="seconds to wait for that load at most (then time anyway)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error("--threads must be >= 1")

    from threadpoolctl import threadpool_limits

    print(
        f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()}), "
        f"threads: {args.threads}"
    )
    names = list(BACKENDS) if args.backend == "all" else [args.backend]
    encoders: Dict[str, MiniLMEncoder] = {}
    results: Dict[str, Dict[str, object]] = {}
    for name in names:
        load = wait_for_load(args.max_load, args.max_wait)
        start = time.perf_counter()
        encoders[name] = MiniLMEncoder(cache_size=0, backend=name, threads=args.threads)
        encoders[name].encode(["warm up"])
        load_ms = (time.perf_counter() - start) * 1e3
        results[name] = {"load_ms": load_ms, "load_average": load}
        print(
            f"{name:11s} model load (read zip, SHA-256, weights, graph/session, tokenizer, "
            f"first call): {load_ms:.0f} ms   [load avg {load:.2f}]"
        )
    if len(encoders) == 2:
        diff = np.abs(
            encoders["onnxruntime"].encode(BATCH[:12]) - encoders["numpy"].encode(BATCH[:12])
        ).max()
        print(f"max |onnxruntime - numpy| over 12 sentences: {diff:.1e}")
    backends: Dict[str, Callable[[List[str]], np.ndarray]] = {
        name: enc.encode for name, enc in encoders.items()
    }
    encoder = next(iter(encoders.values()))
    with threadpool_limits(args.threads):
        for kind, texts in MESSAGES.items():
            tokens = statistics.mean(len(encoder.token_ids(t)) for t in texts)
            for name, fn in backends.items():
                load = wait_for_load(args.max_load, args.max_wait)
                ms = time_per_message(fn, texts, args.runs)
                results[name][kind] = {
                    "p50_ms": percentile(ms, 50),
                    "p95_ms": percentile(ms, 95),
                    "mean_word_pieces": tokens,
                    "load_average": load,
                }
                print(
                    f"{name:11s} {kind:20s} ({tokens:5.1f} word pieces): "
                    f"p50 {percentile(ms, 50):7.2f} ms   p95 {percentile(ms, 95):7.2f} ms"
                    f"   [load avg {load:.2f}]"
                )
        for name, fn in backends.items():
            runs = max(3, args.runs // 10)
            load = wait_for_load(args.max_load, args.max_wait)
            fn(BATCH)
            start = time.perf_counter()
            for _ in range(runs):
                fn(BATCH)  # the encoder batches sentences of similar length
            per = (time.perf_counter() - start) / runs / len(BATCH) * 1e3
            results[name]["batch_of_48_per_sentence_ms"] = per
            print(
                f"{name:11s} batch of {len(BATCH)} mixed sentences: {per:.2f} ms per sentence"
                f"   [load avg {load:.2f}]"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
