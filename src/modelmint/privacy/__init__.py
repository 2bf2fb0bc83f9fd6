"""Privacy: PII detection and redaction, reversible placeholders, encryption at rest, retention."""
