"""Tables of the agreement feature; registered on the store's one MetaData (placeholder)."""

from plugin.store.schema import Id, metadata  # noqa: F401
