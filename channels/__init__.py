"""Rasa input channels of the assistant, one module per channel.

sanitize.py is shared by all of them: whatever a patient sends, NLU sees
clean, bounded text, and nobody can trigger intents by typing "/restart".

Rasa imports this package when it loads the channels credentials.yml names,
at server start-up and before any custom action runs: the one place where our
code runs in every Rasa server, so the measured speed-up of Rasa's check of
action-server responses is installed here (perf/rasa_speedups.py). Processes
that import channels without running Rasa (tests, eval scripts) are left alone.
"""

from perf.rasa_speedups import install_if_rasa_loaded

install_if_rasa_loaded()
