"""Accounts: users with roles, their sessions and API tokens, and the audit log (docs/security.md)."""
