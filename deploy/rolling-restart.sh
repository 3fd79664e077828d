#!/usr/bin/env bash
# Restarts the assistant on this machine without downtime (deploy/README.md,
# "Upgrades"): each action server, then each Rasa replica, one at a time. Each
# `systemctl restart` returns only when that process answers again (the units'
# ExecStartPost), and meanwhile nginx sends requests to the other one.
# The widget and the console are single processes: restarted last (seconds).
set -euo pipefail
units=(achilles-actions@5055 achilles-actions@5056 achilles-rasa@5005 achilles-rasa@5006
       achilles-widget achilles-console)
for unit in "${units[@]}"; do
  echo "restarting $unit"
  systemctl restart "$unit.service"
  systemctl is-active --quiet "$unit.service"
done
echo "all restarted"
