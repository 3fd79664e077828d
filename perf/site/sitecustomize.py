"""Loaded by Python at start-up when PYTHONPATH includes this folder: installs
perf.rasa_speedups (see there) without changing any other file.

Also, before numpy is imported: one BLAS / OpenMP thread (unless set otherwise
in the environment). The Rasa server handles turns one at a time on its event
loop, and OpenBLAS's extra worker spin-waits after every small matrix call:
measured (bench/README.md), it doubled the server's CPU per message (70 -> 35 ms)
for the same throughput, and it kept a second core busy, so a second replica
had no core left.
"""
import os
import sys

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
try:
    from perf.rasa_speedups import install

    install()
except Exception as error:  # never stop the interpreter from starting
    sys.stderr.write(f"perf.rasa_speedups not installed: {error}\n")
