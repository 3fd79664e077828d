"""Cost and accuracy figures: training times (ours cold and incremental, the
`rasa init` baseline's), model sizes, and the NLU evaluation."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

from servers import MODEL_PATH as MODEL
from servers import PROJECT_ROOT, VENV_BIN

RASA = str(VENV_BIN / "rasa")
PYTHON = str(VENV_BIN / "python")


def run_timed(cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "ab") as out:
        result = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({result.returncode}); see {log}")
    return round(time.perf_counter() - start, 1)


def build_baseline(tmp: Path, env: Dict[str, str], reuse: Optional[Path] = None) -> Dict:
    """`rasa init --no-prompt` in a temp folder: scaffold + train the default bot.

    `reuse` (--baseline-dir, for working on the benchmark itself): a folder kept
    from an earlier run; it is built there once and reused afterwards."""
    folder = reuse or tmp / "baseline"
    record = folder / "bench-train.json"
    if reuse and record.exists():
        seconds = json.loads(record.read_text())["train_s"]
    else:
        folder.mkdir(parents=True, exist_ok=True)
        seconds = run_timed(
            [RASA, "init", "--no-prompt", "--init-dir", str(folder)],
            folder,
            dict(env, RASA_CACHE_DIRECTORY=str(tmp / "cache-baseline")),
            tmp / "baseline-train.log",
        )
        record.write_text(json.dumps({"train_s": seconds}))
    model = max((folder / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    (folder / "bench-credentials.yml").write_text(
        "rest:\nsocketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n"
        "  session_persistence: false\n"
    )
    return {
        "folder": folder,
        "model": model,
        "train_s": seconds,
        "model_mb": round(model.stat().st_size / 2**20, 1),
    }


def training_costs(tmp: Path, env: Dict[str, str]) -> Dict:
    """Cold training (empty cache) and incremental training (one NLU example changed)."""
    cache = tmp / "cache-ours"
    out = tmp / "models"
    env = dict(env, RASA_CACHE_DIRECTORY=str(cache))
    log = tmp / "train-ours.log"
    common = [RASA, "train", "--config", "config.yml", "--domain", "domain.yml", "--out", str(out)]
    cold = run_timed(
        common + ["--data", "data", "--fixed-model-name", "cold"], PROJECT_ROOT, env, log
    )
    data = tmp / "data-incremental"
    shutil.copytree(PROJECT_ROOT / "data", data)
    nlu = data / "nlu" / "treatment.yml"
    text = nlu.read_text()
    marker = "    - can a torn achilles heal without surgery\n"
    if marker not in text:
        raise RuntimeError(f"incremental training: example to change not found in {nlu}")
    nlu.write_text(
        text.replace(marker, "    - can a torn achilles tendon heal without any surgery\n", 1)
    )
    incremental = run_timed(
        common + ["--data", str(data), "--fixed-model-name", "incremental"], PROJECT_ROOT, env, log
    )
    return {
        "cold_train_s": cold,
        "incremental_train_s": incremental,
        "cold_model_mb": round((out / "cold.tar.gz").stat().st_size / 2**20, 1),
    }


def nlu_accuracy(tmp: Path, env: Dict[str, str]) -> Dict:
    path = tmp / "nlu_eval.json"
    seconds = run_timed(
        [PYTHON, "eval/evaluate_nlu.py", "--model", str(MODEL), "--quiet", "--json", str(path)],
        PROJECT_ROOT,
        env,
        tmp / "eval.log",
    )
    result = {
        name: {k: v for k, v in figures.items() if k != "per_intent"}
        for name, figures in json.loads(path.read_text()).items()
    }
    result["eval_s"] = seconds
    return result


def accuracy_line(name: str, acc: Dict) -> str:
    return (
        f"{name}: {acc['messages']} messages, accuracy {acc['accuracy']:.3f}, macro-F1 "
        f"{acc['macro_f1']:.3f}, fallback rate {acc['fallback_rate']:.3f}, safety recall "
        f"{acc['safety_recall']:.3f} (right tier {acc['right_tier']:.3f}), false "
        f"escalations {acc['false_escalations']}"
    )
