"""Running several replicas: the start-up checks (settings.py), the local
PostgreSQL + Redis + nginx stack (stack.py, with packages.py, processes.py,
postgres.py, redis_server.py, nginx.py and nginx.conf.j2) and `make cluster`
(run.py)."""
