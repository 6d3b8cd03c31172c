"""Signing in: passwords (argon2), server-side sessions, lockout, API tokens and SSO."""
