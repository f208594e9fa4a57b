"""The hub on PostgreSQL: the same end-to-end tests, with the store on a real server.

The tests below are the SQLite suite's own, collected here a second time with
``hub_store`` pointing at a fresh database of the private PostgreSQL server
(``devtools.pgserver``, Debian's binaries): ordering, a hub killed mid-stream with the
poster retrying, number generation (inbound pushes, designations), staff queries and
manual answers, consistency checks and send-destination batches (the long jobs), and
the backup round trip (pg_dump, its check in a scratch database, pg_restore), the
initial load and the first consistency check after it.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.script import ScriptDirectory

from hub.store.engine import alembic_config
from tests.integration.test_backup import (
    test_copies_made_while_changes_flow_are_checked_kept_and_restored,
)
from tests.integration.test_consistency import test_planted_differences_are_found_exactly
from tests.integration.test_initial_load import (
    test_a_loaded_register_agrees_with_the_outside_systems,
)
from tests.integration.test_intermediate import (
    test_code_requests_manual_answers_and_provision_records,
)
from tests.integration.test_national import (
    test_identity_queries_by_code_number_and_four_items,
)
from tests.integration.test_prefecture_path import (
    test_changes_are_applied_in_order,
    test_hub_killed_and_restarted_mid_stream,
    test_number_generation_round_trip,
)
from tests.integration.test_send_batches import (
    test_batches_by_list_and_for_everyone_needing_a_notice,
)

__all__ = [
    "test_changes_are_applied_in_order", "test_hub_killed_and_restarted_mid_stream",
    "test_number_generation_round_trip", "test_identity_queries_by_code_number_and_four_items",
    "test_code_requests_manual_answers_and_provision_records",
    "test_planted_differences_are_found_exactly",
    "test_batches_by_list_and_for_everyone_needing_a_notice",
    "test_copies_made_while_changes_flow_are_checked_kept_and_restored",
    "test_the_hub_really_runs_on_postgresql",
    "test_a_loaded_register_agrees_with_the_outside_systems",
]


@pytest.fixture
def hub_store(pg_server: Any) -> str:
    return str(pg_server.database())


def test_the_hub_really_runs_on_postgresql(env_with: Any) -> None:
    e = env_with()
    assert e.store_url.startswith("postgresql+psycopg://")
    [(version,)] = e.read_store("SELECT version()")
    assert version.startswith("PostgreSQL")
    [(revision,)] = e.read_store("SELECT version_num FROM alembic_version")
    head = ScriptDirectory.from_config(alembic_config(e.store_url)).get_current_head()
    assert revision == head  # the hub migrated it at start
