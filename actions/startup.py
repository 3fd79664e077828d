"""Start-up of the action server (imported by rasa-sdk with every module of this
package, after it created its Sanic app; the Rasa server and the console import
only `actions.config` and `actions.appointment_store`, so they never run it).

1. With several replicas (REPLICAS>1 or CLUSTER=true) the action server refuses
   to start without the shared database and the secrets from the environment
   (settings/replicas.py).
2. Request size: SANIC_REQUEST_MAX_SIZE (64 KB, set for the public webhooks by
   the Makefile) reaches this process too, but Rasa sends the session's whole
   tracker with every action call, ~3.5 KB per turn: from about the tenth turn
   every custom action failed with "Request body exceeds the size limit" and the
   patient got the technical-trouble reply (found by bench/run_all.py). The
   action server listens on loopback or a private network only, so its own limit
   is ACTION_REQUEST_MAX_SIZE (default 8 MiB, as in the Makefile; the Procfile
   and `make cluster` also pass it to `python -m actions.server` as
   SANIC_REQUEST_MAX_SIZE, which then answers a larger body with 413).
"""

import logging

from settings.env import env_int
from settings.replicas import check_cluster_config

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES = 8 * 2**20  # ACTION_REQUEST_MAX_SIZE in the Makefile

check_cluster_config("actions")


def widen_request_limit() -> None:
    try:
        from sanic import Sanic

        app = Sanic.get_app("rasa_sdk")
    except Exception:  # not inside `rasa run actions` (e.g. tests import the actions)
        return
    limit = env_int("ACTION_REQUEST_MAX_SIZE", DEFAULT_MAX_REQUEST_BYTES, low=1)
    if app.config.REQUEST_MAX_SIZE < limit:
        logger.info(
            "Action server request limit %d -> %d bytes (Rasa sends whole trackers)",
            app.config.REQUEST_MAX_SIZE,
            limit,
        )
        app.config.REQUEST_MAX_SIZE = limit


widen_request_limit()
