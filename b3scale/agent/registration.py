"""Finding (or registering) the agent's own backend row, by its exact API URL."""

from __future__ import annotations

import logging

from b3scale.cluster.hosts import normalize_host
from b3scale.store import backends as backend_store
from b3scale.store import node_events
from b3scale.store.backends import Backend
from b3scale.store.db import Database, UniqueViolation

log = logging.getLogger(__name__)


class NotRegistered(Exception):
    """The node is not in the cluster and ``-register`` was not given."""


async def find_or_register(
    db: Database, server_url: str, secret: str, load_factor: float, register: bool
) -> Backend:
    """The backend row for this node (exact, normalised URL: b3scale's ILIKE prefix match
    confuses https://a.b with https://a.bc). Registered in state ``init`` when asked to."""
    host = normalize_host(server_url)
    backend = await backend_store.select_backend_by_host(db, host)
    if backend is None:
        if not register:
            raise NotRegistered(
                f"the backend {host} is not registered; start noded with -register "
                "(then enable it: b3scale ctl enable backend " + host + ")"
            )
        try:
            backend = await backend_store.insert_backend(
                db, host, secret, admin_state="init", load_factor=load_factor
            )
            log.info("registered this node", extra={"backend": host, "admin_state": "init"})
        except UniqueViolation:  # registered by a second agent at the same moment
            backend = await backend_store.select_backend_by_host(db, host)
            assert backend is not None
    if await node_events.update_agent_fields(db, backend.id, secret, load_factor):
        log.warning("updated the changed secret of this backend", extra={"backend": host})
    return backend
