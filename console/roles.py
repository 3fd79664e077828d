"""Staff roles and what each may do (console/README.md, "Roles").

Every page declares the permission it needs (console/web.py `requires`); a role
grants a set of permissions. New users get the least privilege: reviewer.
"""

from __future__ import annotations

ROLES = ("reviewer", "callback", "admin")
ROLE_HELP = {
    "reviewer": "conversations (masked), reviews, intent corrections, overview",
    "callback": "the Needs action inbox and appointment queue, with patients' phone numbers",
    "admin": "everything: also CSV export, the audit and access logs and user management",
}
PERMISSIONS = {
    "reviewer": frozenset({"conversations", "review", "overview", "topics"}),
    "callback": frozenset({"appointments", "inbox", "reveal_phone"}),
    "admin": frozenset(
        {
            "conversations",
            "review",
            "overview",
            "appointments",
            "export",
            "audit",
            "users",
            "inbox",
            "reveal_phone",
            "topics",
        }
    ),
}
