"""One BLAS / OpenMP thread for the Rasa server (bench/README.md, finding 11).

The Rasa server handles turns one at a time on its event loop, and OpenBLAS's
extra worker (numpy and scipy each bring one) spin-waits after every small
matrix call: measured, it doubled the server's CPU per message (35 -> 70 ms)
for the same throughput, and kept a second core busy, so a second replica had
no core left.

BLAS reads these variables once, when numpy is loaded, so they must be in the
environment the process starts with. Every place that starts a Rasa server
sets them: the Procfile's `rasa:` line (`make run`, scripts/supervise.py, the
systemd units and the container all run it), and tests/servers.py and
cluster/stack.py, where a value already in the environment wins (e.g.
bench/profile_server.py --env OPENBLAS_NUM_THREADS=2 to re-measure).
tests/test_speedups.py and tests/test_rest_e2e.py check them.
"""

from __future__ import annotations

from typing import Dict

ONE_BLAS_THREAD: Dict[str, str] = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
