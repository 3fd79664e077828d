"""SMS patients' phone numbers, kept encrypted for call-backs (issue 20).

SMS conversations are named by a keyed hash of the number (channels/sms/
identities.py), so staff cannot call a patient back from the conversation alone.
When an SMS conversation escalates (911 or urgent tier), asks for a person or
requests an appointment, the SMS channel keeps the number here, encrypted with
Fernet (AES-128-CBC + HMAC-SHA256, the `cryptography` package). Every other
conversation stays a keyed hash only.

The key is never in the database:

- `PHONE_VAULT_KEYS`: comma-separated Fernet keys, newest first (production; the
  same on every replica, required with several replicas: settings/replicas.py), else
- the file `PHONE_VAULT_KEY_FILE` (default `var/phone_vault_keys`, mode 0600, one
  key per line, newest first), generated once when missing.

Rotation (`python -m stores.phone_vault rotate`): a new key is put first in the
file, every stored number is re-encrypted with it (MultiFernet.rotate), then the
old keys are removed from the file. With `PHONE_VAULT_KEYS` set, rotate prints
the new key list to set instead (`--new-key` then re-encrypts with it).

Only the console reveals a number, to the callback and admin roles, one audit
row per reveal (console/inbox.py). Retention deletes the number with the
conversation (`forget`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import List, Mapping, Optional

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from settings.env import env_str, environ
from settings.replicas import secret_from_env
from stores.private_storage import PROJECT_VAR_DIR, write_private_lines

metadata = sa.MetaData()

sms_contact_numbers = sa.Table(
    "sms_contact_numbers",
    metadata,
    sa.Column("conversation_id", sa.String(255), primary_key=True),
    sa.Column("number_token", sa.Text, nullable=False),  # Fernet token of the number
    sa.Column("reason", sa.String(32), nullable=False),  # 911 | urgent | person | appointment
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

KEYS_VARIABLE = "PHONE_VAULT_KEYS"
KEY_FILE_VARIABLE = "PHONE_VAULT_KEY_FILE"
DEFAULT_KEY_FILE = PROJECT_VAR_DIR / "phone_vault_keys"


_env = environ


def key_file(env: Optional[Mapping[str, str]] = None) -> Path:
    return Path(env_str(KEY_FILE_VARIABLE, "", env) or DEFAULT_KEY_FILE)


def load_keys(env: Optional[Mapping[str, str]] = None, create: bool = True) -> List[str]:
    """The keys, newest first: PHONE_VAULT_KEYS, else the key file (made when missing)."""
    env = _env(env)
    # with several replicas the keys must come from the environment (the same on
    # every replica): secret_from_env refuses to go on without them
    listed = [
        k.strip() for k in (secret_from_env(KEYS_VARIABLE, env) or "").split(",") if k.strip()
    ]
    if listed:
        return listed
    path = key_file(env)
    if path.exists():
        keys = [k.strip() for k in path.read_text(encoding="utf-8").splitlines() if k.strip()]
        if keys:
            return keys
    if not create:
        raise RuntimeError(f"no phone vault key: set {KEYS_VARIABLE} or create {path}")
    keys = [Fernet.generate_key().decode("ascii")]
    write_private_lines(path, keys)
    return keys


def cipher(env: Optional[Mapping[str, str]] = None) -> MultiFernet:
    return MultiFernet([Fernet(k.encode("ascii")) for k in load_keys(env)])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def keep(
    engine: sa.engine.Engine,
    conversation_id: str,
    number: str,
    reason: str,
    env: Optional[Mapping[str, str]] = None,
) -> None:
    """Stores (or replaces) the conversation's number, encrypted."""
    token = cipher(env).encrypt(number.strip().encode("utf-8")).decode("ascii")
    now = _now()
    with engine.begin() as conn:
        updated = conn.execute(
            sms_contact_numbers.update()
            .where(sms_contact_numbers.c.conversation_id == conversation_id)
            .values(number_token=token, reason=reason[:32], updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(
                sms_contact_numbers.insert().values(
                    conversation_id=conversation_id,
                    number_token=token,
                    reason=reason[:32],
                    created_at=now,
                    updated_at=now,
                )
            )


def has_number(conn: sa.engine.Connection, conversation_ids: List[str]) -> set:
    if not conversation_ids:
        return set()
    return set(
        conn.execute(
            sa.select(sms_contact_numbers.c.conversation_id).where(
                sms_contact_numbers.c.conversation_id.in_(conversation_ids)
            )
        ).scalars()
    )


def reveal(
    conn: sa.engine.Connection, conversation_id: str, env: Optional[Mapping[str, str]] = None
) -> Optional[str]:
    """The number in clear text, or None (none stored, or no key decrypts it)."""
    token = conn.execute(
        sa.select(sms_contact_numbers.c.number_token).where(
            sms_contact_numbers.c.conversation_id == conversation_id
        )
    ).scalar()
    if token is None:
        return None
    try:
        return cipher(env).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        return None


def forget(conn: sa.engine.Connection, conversation_ids: List[str]) -> int:
    if not conversation_ids:
        return 0
    return conn.execute(
        sms_contact_numbers.delete().where(
            sms_contact_numbers.c.conversation_id.in_(conversation_ids)
        )
    ).rowcount


def reencrypt(engine: sa.engine.Engine, keys: List[str]) -> int:
    """Every stored number re-encrypted with keys[0] (older keys may still decrypt)."""
    multi = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
    count = 0
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(sms_contact_numbers.c.conversation_id, sms_contact_numbers.c.number_token)
        ).all()
        for row in rows:
            token = multi.rotate(row.number_token.encode("ascii")).decode("ascii")
            conn.execute(
                sms_contact_numbers.update()
                .where(sms_contact_numbers.c.conversation_id == row.conversation_id)
                .values(number_token=token)
            )
            count += 1
    return count


def rotate(
    engine: sa.engine.Engine,
    env: Optional[Mapping[str, str]] = None,
    new_key: Optional[str] = None,
) -> dict:
    """A new key first, every number re-encrypted, then the old keys dropped.

    With the key file: done in place (the file holds old and new keys while the
    numbers are re-encrypted, so a crash in between loses nothing). With
    PHONE_VAULT_KEYS: re-encrypts with `new_key` (or a generated one) and returns
    the single key to set everywhere."""
    env = _env(env)
    old = load_keys(env)
    fresh = new_key or Fernet.generate_key().decode("ascii")
    Fernet(fresh.encode("ascii"))  # refuses a malformed key before anything changes
    from_env = bool(env_str(KEYS_VARIABLE, "", env))
    if not from_env:
        write_private_lines(key_file(env), [fresh] + old)
    count = reencrypt(engine, [fresh] + old)
    if not from_env:
        write_private_lines(key_file(env), [fresh])
    return {
        "reencrypted": count,
        "key_file": None if from_env else str(key_file(env)),
        "new_key": fresh if from_env else None,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stores.phone_vault", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rot = sub.add_parser("rotate", help="new key, re-encrypt every stored number, drop old keys")
    rot.add_argument("--new-key", help="use this Fernet key (default: a new random one)")
    args = parser.parse_args(argv)
    from settings.practice import load_settings
    from stores.schema import upgrade_to_head

    engine = upgrade_to_head(load_settings().database_url)
    if args.command == "rotate":
        result = rotate(engine, new_key=args.new_key)
        print(f"re-encrypted {result['reencrypted']} phone numbers")
        if result["key_file"]:
            print(f"the key file {result['key_file']} now holds only the new key")
        else:
            print(f"set {KEYS_VARIABLE}={result['new_key']} on every process, then restart")
    return 0


if __name__ == "__main__":
    sys.exit(main())
