"""The one home of configuration: every process (Rasa server, action server, widget
server, staff console, the cluster runner) reads and validates its environment
through this package. Standard library only; imports nothing of the project, so
every layer may use it (tests/test_layers.py).

- env.py: reading numbers, flags and text from the environment (written once);
- practice.py: the practice's own settings and the project's paths;
- replicas.py: running as one of several replicas (what they must share);
- secrets.py: secrets from the environment, refused when they are placeholders or
  short outside development.
"""
