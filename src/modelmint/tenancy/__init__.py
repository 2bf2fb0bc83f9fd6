"""Tenancy: organizations, users, hashed API keys, scopes and plans."""
