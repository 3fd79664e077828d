"""Measured run-time settings for the Rasa server (bench/README.md).

- rasa_speedups.py: Rasa's check of action-server responses with a validator
  built once (installed by channels/__init__.py; Rasa 3.6.21 only).
- blas_threads.py: one BLAS / OpenMP thread, set where each Rasa server starts.
"""
