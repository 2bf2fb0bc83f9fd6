"""Billing: prices, budgets, rate limits, the usage ledger, invoices and unit economics."""
