"""Several replicas, without servers: the start-up checks (cluster/settings.py), the
secrets that must not be generated per replica, the rate limiter's storage
choice and its behaviour when the storage fails, the one-node job lock on SQLite,
and a retried appointment submission. The same pieces against real PostgreSQL,
Redis and two replicas: tests/cluster/test_cluster.py."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from actions.appointment_store import appointment_requests, engine_for, save_request
from channels.rate_limit import SenderRateLimiter, redis_url
from channels.settings import sms_id_secret
from cluster.settings import (
    CLUSTER_SECRETS,
    ClusterConfigError,
    check_cluster_config,
    cluster_mode,
    cluster_problems,
    secret_from_env,
)
from console.settings import load_console_settings
from stores.sql import advisory_key, single_node

COMPLETE = {
    "REPLICAS": "2",
    # long random values: placeholders and short secrets are refused (settings/secrets.py)
    "SMS_ID_SECRET": "a1b2c3d4e5f60718" * 3,
    "CONSOLE_SECRET_KEY": "b2c3d4e5f6071829" * 3,
    "ACTION_SERVER_TOKEN": "c3d4e5f60718293a" * 3,
    "WIDGET_ID_SECRET": "d4e5f60718293a4b" * 3,
    "DATABASE_URL": "postgresql://rasa:pw@db:5432/achilles",
    "LOCK_STORE_TYPE": "redis",
    "RATE_LIMIT_STORAGE_URI": "redis://cache:6379/2",
    "SMS_STATE_STORE": "redis",
}


def test_one_replica_needs_nothing_shared():
    assert not cluster_mode({})
    assert not cluster_mode({"REPLICAS": "1"})
    for component in ("rasa", "actions", "console"):
        assert cluster_problems(component, {"DATABASE_URL": "sqlite:///x.db"}) == []
    assert secret_from_env("SMS_ID_SECRET", {}) is None  # the caller may generate one


@pytest.mark.parametrize("env", [{"REPLICAS": "3"}, {"CLUSTER": "true"}, {"CLUSTER": "1"}])
def test_cluster_mode_is_declared_by_replicas_or_cluster(env):
    assert cluster_mode(env)


def test_bad_replica_count_is_an_error():
    with pytest.raises(ClusterConfigError):
        cluster_mode({"REPLICAS": "two"})
    with pytest.raises(ClusterConfigError):
        cluster_mode({"REPLICAS": "0"})


def test_complete_cluster_configuration_passes():
    for component in ("rasa", "actions", "console"):
        check_cluster_config(component, COMPLETE)
    assert (
        cluster_problems("rasa", dict(COMPLETE, RATE_LIMIT_STORAGE_URI="async+redis://c:1")) == []
    )


def test_every_secret_and_every_shared_store_is_required_with_several_replicas():
    problems = cluster_problems("rasa", {"REPLICAS": "2"})
    text = " ".join(problems)
    for name in CLUSTER_SECRETS:
        assert f"{name} is not set" in text
    for needed in ("DATABASE_URL", "LOCK_STORE_TYPE", "RATE_LIMIT_STORAGE_URI", "SMS_STATE_STORE"):
        assert needed in text
    # SQLite cannot be shared; the action server and console need no Redis
    sqlite = dict(COMPLETE, DATABASE_URL="sqlite:////srv/conversations.db")
    assert [p for p in cluster_problems("actions", sqlite) if "DATABASE_URL" in p]
    assert cluster_problems("console", dict(COMPLETE, LOCK_STORE_TYPE="in_memory")) == []
    with pytest.raises(ClusterConfigError, match="ACTION_SERVER_TOKEN is not set"):
        check_cluster_config(
            "actions", {k: v for k, v in COMPLETE.items() if k != "ACTION_SERVER_TOKEN"}
        )


def test_sms_id_secret_is_never_generated_per_replica(tmp_path):
    secret_file = tmp_path / "sms_id_secret"
    with pytest.raises(ClusterConfigError, match="SMS_ID_SECRET must be set"):
        sms_id_secret({"REPLICAS": "2", "SMS_ID_SECRET_FILE": str(secret_file)})
    assert not secret_file.exists()
    shared = "5e8f0c1d2a9b47e6" * 4
    assert sms_id_secret({"REPLICAS": "2", "SMS_ID_SECRET": shared}) == shared.encode()
    # one replica: generated once into var/, as before
    assert sms_id_secret({"SMS_ID_SECRET_FILE": str(secret_file)})
    assert secret_file.exists()


def test_console_key_is_never_generated_per_replica(tmp_path):
    settings = load_console_settings({"REPLICAS": "2", "CONSOLE_VAR_DIR": str(tmp_path)})
    with pytest.raises(ClusterConfigError, match="CONSOLE_SECRET_KEY must be set"):
        settings.secret_key()
    assert list(tmp_path.iterdir()) == []
    shared = load_console_settings(
        {
            "REPLICAS": "2",
            "CONSOLE_SECRET_KEY": "5e8f0c1d2a9b47e6" * 4,
            "CONSOLE_VAR_DIR": str(tmp_path),
        }
    )
    assert shared.secret_key() == "5e8f0c1d2a9b47e6" * 4
    single = load_console_settings({"CONSOLE_VAR_DIR": str(tmp_path)})
    assert len(single.secret_key()) == 64  # generated into var/, one process


def test_rate_limit_storage_uri():
    assert redis_url("redis://h:6379/2") == "redis://h:6379/2"
    assert redis_url("async+redis://h:6379") == "redis://h:6379"
    assert redis_url("rediss://h:6380") == "rediss://h:6380"
    assert redis_url("async+memory://") == ""
    assert not SenderRateLimiter("2/minute", "async+memory://").shared
    # the Redis client connects lazily: building it needs no server
    assert SenderRateLimiter("2/minute", "redis://127.0.0.1:9/0").shared


@pytest.mark.asyncio
async def test_in_process_rate_limit_still_counts():
    limiter = SenderRateLimiter("2/minute", "async+memory://")
    assert [await limiter.allow("rest", "p1") for _ in range(3)] == [True, True, False]


@pytest.mark.asyncio
async def test_rate_limit_storage_down_lets_the_message_through(caplog):
    """The turn then fails on the same Redis and the channel answers with the
    office phone (tests/cluster/test_cluster.py), not with a wrong 'too fast'."""
    limiter = SenderRateLimiter("1/minute", "redis://127.0.0.1:9/0")  # nothing listens
    assert [await limiter.allow("rest", "p1") for _ in range(3)] == [True, True, True]
    assert "Rate-limit storage failed" in caplog.text


@pytest.mark.asyncio
async def test_per_address_limit_counts_in_the_same_storage():
    """RATE_LIMIT_PER_IP (issue #10) next to the per-sender limit: in memory it
    counts per address, apart from the conversations' counts."""
    limiter = SenderRateLimiter("100/minute", "async+memory://", ip_limit="2/minute")
    hits = [await limiter.allow_ip("203.0.113.7") for _ in range(3)] + [
        await limiter.allow_ip("203.0.113.8"),
        await limiter.allow("rest", "p1"),
    ]
    assert hits == [True, True, False, True, True]


@pytest.mark.asyncio
async def test_per_address_limit_fails_open_like_the_sender_limit(caplog):
    limiter = SenderRateLimiter("1/minute", "redis://127.0.0.1:9/0", ip_limit="1/minute")
    assert [await limiter.allow_ip("203.0.113.7") for _ in range(3)] == [True, True, True]
    assert "Rate-limit storage failed" in caplog.text


def test_one_node_jobs_exclude_each_other_on_sqlite(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}", future=True)
    with single_node(engine, "job") as first:
        assert first
        outcome = []
        thread = threading.Thread(
            target=lambda: outcome.append(single_node(engine, "job").__enter__())
        )
        thread.start()
        thread.join()
        assert outcome == [False]
        with single_node(engine, "other job") as other:
            assert other
    with single_node(engine, "job") as again:
        assert again
    assert advisory_key("job") == advisory_key("job") != advisory_key("other job")
    assert -(2**63) <= advisory_key("job") < 2**63


def test_a_retried_submission_stores_one_request(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    request = dict(
        conversation_id="c1",
        channel="rest",
        patient_name="Maria Lopez",
        phone="(310) 555-0123",
        preferred_time="mornings",
        reason="tear",
        consent=True,
    )
    first = save_request(url, **request)
    assert save_request(url, **request) == first
    other = save_request(url, **dict(request, preferred_time="afternoons"))
    assert other != first
    with engine_for(url).connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(appointment_requests)).scalar() == 2
        )
        # an identical request long after is a new one
        conn.execute(
            appointment_requests.update().values(
                created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
            )
        )
        conn.commit()
    assert save_request(url, **request) not in (first, other)


def test_console_daily_retention_runs_once_a_day_and_background_settings(tmp_path):
    from console.db import engine_for as console_engine
    from console.jobs import BackgroundJobs, daily_retention, retention_once

    engine = console_engine(f"sqlite:///{tmp_path / 'console.db'}")
    day = dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc)
    assert daily_retention(engine, 365, now=lambda: day) is not None
    assert daily_retention(engine, 365, now=lambda: day + dt.timedelta(hours=5)) is None
    assert daily_retention(engine, 365, now=lambda: day + dt.timedelta(days=1)) is not None
    with single_node(engine, "console_retention"):  # another node is at it
        assert retention_once(engine, 365, "cli:test") is None
    assert retention_once(engine, 365, "cli:test") is not None

    jobs = BackgroundJobs.from_env(engine, lambda force=False: None, {})
    assert jobs.enabled and jobs.refresh_s == 60 and jobs.retention_days is None
    jobs = BackgroundJobs.from_env(
        engine,
        lambda force=False: None,
        {"CONSOLE_REFRESH_SECONDS": "0", "CONSOLE_RETENTION_DAYS": "30"},
    )
    assert jobs.enabled and jobs.retention_days == 30
    assert not BackgroundJobs.from_env(engine, None, {"CONSOLE_REFRESH_SECONDS": "0"}).enabled
    with pytest.raises(ValueError):
        BackgroundJobs.from_env(engine, None, {"CONSOLE_RETENTION_DAYS": "0"})


def test_console_background_jobs_refresh_and_stop(tmp_path):
    import time

    from console.jobs import BackgroundJobs

    calls = []
    jobs = BackgroundJobs(
        None,
        lambda force=False: calls.append(force),
        refresh_s=0.05,
        retention_days=None,
        tick_s=0.05,
    )
    jobs.start()
    time.sleep(0.5)
    jobs.stop()
    jobs.join(2)
    assert not jobs.is_alive() and len(calls) >= 2 and all(calls)
