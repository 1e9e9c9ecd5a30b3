"""Reconcile the store with Label Studio: Label Studio never redelivers a webhook, so whatever
arrived while we were down (or was sent only to org-wide hooks, like delete-all) is recovered here,
as events the worker processes like live ones (``docs/sync.md``).
"""

from plugin.store.sync_state import save_users
from plugin.sync.runner import SyncPolicy, SyncReport, SyncScheduler, sync_project

__all__ = ["SyncPolicy", "SyncReport", "SyncScheduler", "save_users", "sync_project"]
