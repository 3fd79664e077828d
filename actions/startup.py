"""Start-up check of the action server (imported by rasa-sdk with every module of
this package; the Rasa server and the console import only `actions.config` and
`actions.appointment_store`, so they never run it).

With several replicas (REPLICAS>1 or CLUSTER=true) the action server refuses to
start without the shared database and the secrets from the environment
(cluster/settings.py).
"""
from cluster.settings import check_cluster_config

check_cluster_config("actions")
