"""One home for settings (issue 21): the environment helpers written once, and
placeholder or short secrets refused outside development (the review found
CHANGE-ME and a one-letter secret accepted even with several replicas)."""

from __future__ import annotations

import pytest

from settings.env import SettingsError, env_bool, env_float, env_int
from settings.replicas import ClusterConfigError, check_cluster_config, secret_from_env
from settings.secrets import secret_problems

STRONG = "5e8f0c1d2a9b47e6" * 4
CLUSTER = {
    "REPLICAS": "2",
    "DATABASE_URL": "postgresql://rasa:pw@db:5432/achilles",
    "LOCK_STORE_TYPE": "redis",
    "RATE_LIMIT_STORAGE_URI": "redis://cache:6379/2",
    "SMS_STATE_STORE": "redis",
}
SECRETS = ("SMS_ID_SECRET", "CONSOLE_SECRET_KEY", "ACTION_SERVER_TOKEN", "WIDGET_ID_SECRET")


def test_numbers_from_the_environment():
    assert env_int("N", 5, {}) == 5 and env_int("N", 5, {"N": " 7 "}) == 7
    assert env_float("F", 1.5, {"F": "2.25"}) == 2.25
    assert env_bool("B", False, {"B": "yes"}) is True
    for bad in ({"N": "seven"}, {"N": "0"}, {"N": "99999999999"}):
        with pytest.raises(SettingsError):
            env_int("N", 5, bad, low=1, high=1000)
    for bad in ("nan", "inf", "x"):
        with pytest.raises(SettingsError):
            env_float("F", 1.0, {"F": bad})


@pytest.mark.parametrize(
    "value",
    [
        "CHANGE-ME",
        "changeme",
        "x",
        "s1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "short-but-random-1234",
        "secret",
        "xxx-" + "k" * 40,
        "todo_" + "q1w2e3r4" * 5,
    ],
)
@pytest.mark.parametrize("mode", [{"ACHILLES_ENV": "production"}, {"REPLICAS": "2"}])
def test_placeholder_and_short_secrets_are_refused_outside_development(value, mode):
    assert secret_problems("WIDGET_ID_SECRET", value, mode)
    with pytest.raises(ClusterConfigError):
        secret_from_env("WIDGET_ID_SECRET", dict(mode, WIDGET_ID_SECRET=value))


def test_a_random_key_holding_a_placeholder_word_by_chance_is_accepted():
    # a Fernet key (PHONE_VAULT_KEYS) is random base64: "xxx" or "todo" may sit inside it
    for key in (
        "h3Qx9xxxA7pLr2Zk5Vb8Nw1Cd4Ef6Gh0Ij3Kl5Mn7Op=",
        "aB3todoZq8Lm2Xn5Vc7Rt1Yu4Io6Pk9Wj0Es3Df5Gh=",
    ):
        assert secret_problems("PHONE_VAULT_KEYS", key, {"REPLICAS": "2"}) == []


def test_every_process_refuses_a_cluster_with_a_placeholder_secret():
    env = dict(CLUSTER, **{name: STRONG for name in SECRETS})
    for component in ("rasa", "actions", "console"):
        check_cluster_config(component, env)
        with pytest.raises(ClusterConfigError, match="CONSOLE_SECRET_KEY is a placeholder"):
            check_cluster_config(component, dict(env, CONSOLE_SECRET_KEY="CHANGE-ME"))
        with pytest.raises(ClusterConfigError, match="WIDGET_ID_SECRET is one or two"):
            check_cluster_config(component, dict(env, WIDGET_ID_SECRET="x"))


def test_the_console_refuses_a_placeholder_key_in_production():
    from console.settings import load_console_settings

    env = {"ACHILLES_ENV": "production", "CONSOLE_SECRET_KEY": "CHANGE-ME"}
    with pytest.raises(ValueError, match="placeholder"):
        load_console_settings(env).secret_key()
    assert load_console_settings(dict(env, CONSOLE_SECRET_KEY=STRONG)).secret_key() == STRONG


def test_development_accepts_what_make_run_uses():
    assert secret_problems("WIDGET_ID_SECRET", "x", {}) == []
    assert secret_from_env("WIDGET_ID_SECRET", {"WIDGET_ID_SECRET": "dev"}) == "dev"
    assert secret_problems("WIDGET_ID_SECRET", STRONG, {"ACHILLES_ENV": "production"}) == []


def test_the_deploy_example_runs_in_production_mode():
    from deploy_helpers import ENV_EXAMPLE

    assert "ACHILLES_ENV=production" in ENV_EXAMPLE.read_text().splitlines()


def test_no_number_is_read_from_the_environment_outside_settings_env():
    """The env-number helper is written once (issue 21, item 6): nowhere else does
    int()/float() wrap an os.environ / os.getenv read (read with ast)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = []
    for folder in (
        "settings",
        "privacy",
        "stores",
        "nlu_components",
        "actions",
        "channels",
        "policies",
        "perf",
        "console",
        "cluster",
        "bench",
    ):
        for path in (root / folder).rglob("*.py"):
            if path == root / "settings" / "env.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in {"int", "float"}
                    and node.args
                    and any(
                        isinstance(n, ast.Attribute) and n.attr in {"environ", "getenv"}
                        for n in ast.walk(node.args[0])
                    )
                ):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not found, "numbers read from the environment without settings/env.py: " + ", ".join(
        found
    )
