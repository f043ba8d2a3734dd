"""Claims held for the length of one run, kept alive by a heartbeat.

A claim in the state store is a lease: it expires unless renewed. The heartbeat renews every
claim of a run at a third of the lease, so a live run never loses its claims to a slow step,
while a run that crashed (SIGKILL, power cut) stops renewing and its claims are free again one
lease later: nobody has to clear a stale lock by hand.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

from kitab.service.logs import kv
from kitab.sync.state import StateStore

log = logging.getLogger(__name__)


def new_owner() -> str:
    """``host:pid:random``: unique per run, so two runs in one daemon never share a claim."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Holder:
    """Who holds a claim someone else wanted."""

    claim: str
    owner: str
    seconds_left: float


class Lease:
    """The claims of one run: taken together or not at all, renewed, released at the end."""

    def __init__(self, store: StateStore, names: list[str], owner: str, ttl: float) -> None:
        self.store = store
        self.names = names
        self.owner = owner
        self.ttl = ttl
        self.lost: list[str] = []  # claims another run took while this one was stalled
        self._held: list[str] = []
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> Holder | None:
        """Take every claim, or none: the holder of the first one taken is returned instead."""
        for name in self.names:
            if self.store.claim(name, self.owner, self.ttl):
                self._held.append(name)
                continue
            self.release()
            for claim, owner, left in self.store.claims():
                if claim == name:
                    return Holder(claim, owner, left)
            return Holder(name, "unknown", 0.0)  # released between our two reads
        self._heartbeat = threading.Thread(
            target=self._beat, name=f"heartbeat-{self.owner}", daemon=True
        )
        self._heartbeat.start()
        return None

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            for name in list(self._held):
                if not self.store.renew(name, self.owner, self.ttl):
                    self._held.remove(name)
                    self.lost.append(name)
                    log.error(kv(event="claim-lost", claim=name, owner=self.owner))

    def release(self) -> None:
        """Stop renewing and free every claim still held (safe to call twice)."""
        self._stop.set()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join()
        for name in self._held:
            self.store.release(name, self.owner)
        self._held.clear()
