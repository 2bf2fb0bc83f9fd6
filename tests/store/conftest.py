"""A fresh, migrated database of each backend (PostgreSQL when its URL is set)."""

from __future__ import annotations

import pytest

from modelmint.store.database import Database
from tests.business_helpers import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    database = Database(database_url(request.param, tmp_path))
    database.migrate()
    yield database
    database.close()
