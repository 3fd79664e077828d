#!/usr/bin/env bash
# Nightly backup (achilles-backup.timer; deploy/README.md "Backups"): a
# PostgreSQL dump of the conversations and appointment requests, and the
# secrets that cannot be re-created (var/sms_id_secret: patients' conversation
# ids and opt-outs hang on it; var/console_secret_key; the environment file).
# Runs as the achilles user; keeps BACKUP_KEEP_DAYS (default 14) days.
# Copy /var/backups/achilles to another machine as well (README).
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL is not set (EnvironmentFile=/etc/achilles/achilles.env)}"
dest=${BACKUP_DIR:-/var/backups/achilles}
keep=${BACKUP_KEEP_DAYS:-14}
project=${PROJECT_DIR:-/srv/achilles}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
umask 077
mkdir -p "$dest"
# custom format: compressed, restorable table by table with pg_restore
pg_dump --format=custom --no-owner --file="$dest/achilles-$stamp.dump.partial" \
        --dbname="$DATABASE_URL"
mv "$dest/achilles-$stamp.dump.partial" "$dest/achilles-$stamp.dump"
secrets=()
for f in var/sms_id_secret var/console_secret_key; do
  [ -e "$project/$f" ] && secrets+=("$f")
done
tar -czf "$dest/achilles-secrets-$stamp.tar.gz" -C "$project" "${secrets[@]}" \
    -C / etc/achilles/achilles.env
find "$dest" -maxdepth 1 -name 'achilles-*' -mtime "+$keep" -delete
echo "backup $stamp written to $dest"
