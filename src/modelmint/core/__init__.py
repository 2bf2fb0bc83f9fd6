"""Core: settings, typed errors and shared value types. Imports no other room."""
