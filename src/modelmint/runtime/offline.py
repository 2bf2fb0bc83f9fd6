"""Hugging Face libraries, told never to reach the network: weights come from local
folders and installed packages, and a hub lookup on a machine without network only waits
and fails."""

from __future__ import annotations

import os


def stay_offline() -> None:
    """Call before loading transformers or sentence-transformers models."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
