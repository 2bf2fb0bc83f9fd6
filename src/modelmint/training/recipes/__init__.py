"""One readable file per training recipe."""
