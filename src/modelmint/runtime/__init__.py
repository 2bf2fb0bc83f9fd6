"""Runtime: the Engine protocol, the engines, and the pool that loads them from the registry.

Knows nothing of tenants, money, HTTP or SQL.
"""
