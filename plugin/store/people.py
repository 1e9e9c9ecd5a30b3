"""Names the dashboard shows instead of ids: people (synced Label Studio users) and project titles."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Connection, select

from plugin.store.schema import projects, users

ANNOTATOR_ID = re.compile(r"\bannotator (\d+)\b")  # how relabel reasons name people (plugin.relabel)


def person_name(
    user_id: int,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    email: str | None = None,
) -> str:
    """How a person is named on screen, as Label Studio does: first and last name, else username,
    else e-mail, else ``user <id>``.

    >>> person_name(5, first_name="Alice", last_name="Lee", username="alice")
    'Alice Lee'
    >>> person_name(5, username="alice", email="a@x.org"), person_name(5, email="a@x.org"), person_name(5)
    ('alice', 'a@x.org', 'user 5')
    """
    full = " ".join(part.strip() for part in (first_name, last_name) if part and part.strip())
    return full or (username or "").strip() or (email or "").strip() or f"user {user_id}"


def display_names(conn: Connection, user_ids: Iterable[int | None]) -> dict[int, str]:
    """``{user id: name}`` for every id given (unknown users get ``user <id>``); one query."""
    wanted = {int(u) for u in user_ids if u is not None}
    if not wanted:
        return {}
    columns = (users.c.first_name, users.c.last_name, users.c.username, users.c.email)
    query = select(users.c.id, *columns).where(users.c.id.in_(wanted))
    known = {
        int(uid): person_name(uid, first_name=first, last_name=last, username=name, email=mail)
        for uid, first, last, name, mail in conn.execute(query)
    }
    return {uid: known.get(uid, person_name(uid)) for uid in wanted}


def project_title(conn: Connection, project_id: int) -> str | None:
    return conn.execute(select(projects.c.title).where(projects.c.id == project_id)).scalar_one_or_none()


def named_reason(reason: str, names: dict[int, str]) -> str:
    """A stored reason with ``annotator <id>`` replaced by the person's name (ids unknown stay).

    >>> named_reason("annotator 5 got 'van' right in 1/5 gold answers", {5: "bob"})
    "bob got 'van' right in 1/5 gold answers"
    """
    return ANNOTATOR_ID.sub(lambda m: names.get(int(m.group(1)), m.group(0)), reason)


def ids_in_reason(reason: str) -> set[int]:
    return {int(m.group(1)) for m in ANNOTATOR_ID.finditer(reason)}
