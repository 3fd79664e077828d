"""Running several replicas: the start-up checks (settings.py), the local
PostgreSQL + Redis + nginx stack (stack.py) and `make cluster` (run.py)."""
