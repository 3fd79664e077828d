"""Loaded by Python at start-up when PYTHONPATH includes this folder: installs
perf.rasa_speedups (see there) without changing any other file."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
try:
    from perf.rasa_speedups import install

    install()
except Exception as error:  # never stop the interpreter from starting
    sys.stderr.write(f"perf.rasa_speedups not installed: {error}\n")
