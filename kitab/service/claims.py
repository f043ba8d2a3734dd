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
from collections.abc import Iterator
from contextlib import contextmanager
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
            if self.store.claim(name, self.owner, self.ttl) or (
                self._free_if_dead(name) and self.store.claim(name, self.owner, self.ttl)
            ):
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

    def _free_if_dead(self, name: str) -> bool:
        """Free a claim whose holder was a process of this machine that no longer exists.

        A run killed here (SIGKILL, a closed terminal) then blocks nobody for the rest of its
        lease; a holder on another machine is left to its lease, which is all we can know.
        """
        for claim, owner, _left in self.store.claims():
            if claim != name:
                continue
            host, _, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if host != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
                return False
            log.warning(kv(event="claim-freed", claim=name, owner=owner, reason="holder died"))
            self.store.release(name, owner)
            return True
        return False

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True


@contextmanager
def claimed(store: StateStore, names: list[str], ttl: float = 300.0) -> Iterator[Holder | None]:
    """Hold ``names`` for the ``with`` block; yields None, or who holds them when taken.

    The commands people run by hand (``kitab push`` while the daemon syncs the same target)
    take the same ``target:NAME`` claim as scheduled jobs, so the two never overlap.
    """
    lease = Lease(store, names, new_owner(), ttl)
    holder = lease.acquire()
    try:
        yield holder
    finally:
        if holder is None:
            lease.release()
