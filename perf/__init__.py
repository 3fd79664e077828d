"""Run-time speed-ups for Rasa 3.6 that keep its behaviour (see bench/README.md)."""
