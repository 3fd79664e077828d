"""The action package registers every action the domain names, and nothing broken."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor


def test_every_domain_action_is_registered(domain):
    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {a for a in domain["actions"]}
    assert custom <= set(executor.actions)
