"""The sync's own table (issue 11), on the store's one MetaData.

``sync_state``: one row per project the worker reconciles with Label Studio. It holds the lease (at
most one sync of a project runs at a time, across every worker on the store), where the running
pass resumes (a full pass streams the project page by page), the incremental cursor (Label
Studio's ``updated_at`` of the newest change seen), when each kind of pass last finished, and the
progress figures ``lsqa sync`` and ``lsqa status`` show.
"""

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, String, Table

from plugin.store.schema import metadata

sync_state = Table(
    "sync_state",
    metadata,
    Column("project_id", BigInteger, primary_key=True, autoincrement=False),
    Column("holder", String(160)),  # worker id and a token of the pass that holds the lease
    Column("lease_until", DateTime(timezone=True)),
    Column("pass_kind", String(16)),  # baseline | full | incremental | check, while one runs
    Column("pass_position", JSON),  # where the running pass resumes
    Column("pass_started_at", DateTime(timezone=True)),
    Column("pass_done", Integer, nullable=False, server_default="0"),
    Column("pass_total", Integer),
    Column("pass_counts", JSON),  # what the running pass has found so far
    Column("changed_since", String(40)),  # Label Studio's updated_at of the newest change seen
    Column("requested_at", DateTime(timezone=True)),  # a pass was asked for (worker start, lsqa sync)
    Column("last_incremental_at", DateTime(timezone=True)),
    Column("last_full_at", DateTime(timezone=True)),
    Column("last_check_at", DateTime(timezone=True)),
    Column("last_report", JSON),  # the counts of the last pass that finished
)
