"""Applying a plan to a repository: bounded concurrency, a write-ahead journal, no lost work.

Why it is built this way:
* Every remote write is preceded by a journal *intent* and followed by its confirmation. A run
  killed in between leaves the intent open; the next run looks the record's identity up in the
  repository before creating anything, so a killed push never leaves a duplicate item, and files
  are compared by checksum with what the item already holds, so none is uploaded twice.
* An update reads the item first and writes only the fields the catalogue changed, keeping
  values the repository holds that kitab never wrote; a field that a cataloguer edited in the
  repository *and* the catalogue changed is a conflict, settled by the configured policy or
  (``manual``) reported and left as it is on both sides.
* One failing record never stops the batch: its error is recorded with the record's control
  number, and the state store is left so that the next run tries it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from kitab.connectors.base import RemoteFile, RemoteItem, Repository, RepositoryError
from kitab.mappings import metadata_hash
from kitab.model import FileRef, Metadata
from kitab.sync.digest import seal
from kitab.sync.merge import Conflict, repository_edited, same, values_to_write
from kitab.sync.plan import WITHDRAWN, Action, ActionKind
from kitab.sync.state import Link, StateStore, SyncedFile

#: digests stamped into links per state store transaction
_STAMPS_PER_WRITE = 500


@dataclass(slots=True)
class Outcome:
    """What happened to one record."""

    key: str
    label: str
    action: str  # create | update | unchanged | skip | resume | withdraw
    status: str  # ok | failed | conflict | skipped
    item_id: str | None = None
    item_url: str | None = None
    message: str = ""
    fields: list[str] = field(default_factory=list)
    files_sent: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


class Pusher:
    """Applies actions to one target, ``concurrency`` records at a time."""

    def __init__(
        self,
        store: StateStore,
        repository: Repository,
        target: str,
        *,
        run_id: int | None,
        concurrency: int = 4,
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
        policy: str = "manual",
        before_first_write: Callable[[], None] = lambda: None,
    ) -> None:
        #: a check that needs the network (the DSpace registry) and so runs only when there is
        #: something to write: a push with nothing to do sends no request at all
        self.before_first_write: Callable[[], None] | None = before_first_write
        self.policy = policy  # conflict policy: manual | catalogue-wins | repository-wins
        self.store = store
        self.repository = repository
        self.target = target
        self.run_id = run_id
        self.concurrency = max(1, concurrency)
        self.on_outcome = on_outcome
        self._interrupted = {entry.key: entry for entry in store.open_intents(target)}
        self._lock = threading.Lock()
        self._stamps: list[tuple[str, str, str]] = []

    def apply(self, actions: Iterable[Action]) -> None:
        """Apply every action; returns when all are done. Outcomes go to ``on_outcome``."""
        slots = threading.BoundedSemaphore(self.concurrency * 2)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="push") as pool:
            for action in actions:
                quiet = action.kind is ActionKind.SKIP or (
                    action.kind is ActionKind.UNCHANGED and action.key not in self._interrupted
                )
                if quiet:
                    self._stamp(action)
                    self.on_outcome(self._quiet(action))
                    continue
                if self.before_first_write is not None:
                    check, self.before_first_write = self.before_first_write, None
                    check()
                slots.acquire()
                future: Future[Outcome] = pool.submit(self._apply_one, action)
                future.add_done_callback(lambda f: (slots.release(), self.on_outcome(f.result())))
        self._flush_stamps()

    def _stamp(self, action: Action) -> None:
        """A linked record found unchanged the ordinary way is in step with its link as it
        stands: seal its source digest into the link, so the next push can tell so from the
        record's bytes alone (a state store older than source digests fills in this way)."""
        link = action.link
        if (
            action.kind is not ActionKind.UNCHANGED
            or action.item is None  # not planned the ordinary way: fast path, deleted, gone
            or action.source_digest is None
            or link is None
            or link.metadata_hash != action.metadata_hash
        ):
            return
        sealed = seal(action.source_digest, link)
        if link.source_digest != sealed:
            self._stamps.append((action.key, sealed, link.updated_at))
            if len(self._stamps) >= _STAMPS_PER_WRITE:
                self._flush_stamps()

    def _flush_stamps(self) -> None:
        if self._stamps:
            self.store.stamp_source_digests(self.target, self._stamps)
            self._stamps = []

    @staticmethod
    def _quiet(action: Action) -> Outcome:
        status = "skipped" if action.kind is ActionKind.SKIP else "ok"
        return Outcome(action.key, action.label, action.kind.value, status, message=action.reason)

    def _apply_one(self, action: Action) -> Outcome:
        interrupted = self._interrupted.get(action.key)
        kind = "resume" if interrupted else action.kind.value
        entry = self.store.journal_intent(
            self.target,
            action.key,
            kind,
            {"fields": [c.field for c in action.changes], "files": action.files.writes},
            self.run_id,
        )
        try:
            if action.kind is ActionKind.WITHDRAW:
                outcome = self._withdraw(action)
            elif interrupted is not None or action.kind is not ActionKind.UPDATE:
                outcome = self._create_or_resume(action, resume=interrupted is not None)
            else:
                outcome = self._update(action, action.link.item_id)  # type: ignore[union-attr]
        except RepositoryError as error:
            self.store.journal_close(entry, "failed", {"error": str(error)})
            return Outcome(action.key, action.label, kind, "failed", message=str(error))
        except OSError as error:  # a scan unreadable mid-run
            self.store.journal_close(entry, "failed", {"error": str(error)})
            return Outcome(action.key, action.label, kind, "failed", message=str(error))
        self.store.journal_close(entry, "done", {"item_id": outcome.item_id})
        if interrupted is not None:
            self.store.journal_close(interrupted.id, "resumed", {"by": entry})
        return outcome

    def _withdraw(self, action: Action) -> Outcome:
        """Take a deleted record's item out of public view; nothing is destroyed."""
        assert action.link is not None
        self.repository.withdraw(action.link.item_id)
        action.link.metadata_hash = WITHDRAWN
        action.link.public = False
        action.link.source_digest = None
        self.store.save_link(action.link)
        return Outcome(
            action.key,
            action.label,
            "withdraw",
            "ok",
            item_id=action.link.item_id,
            item_url=action.link.item_url,
            message=action.reason,
        )

    def _create_or_resume(self, action: Action, *, resume: bool) -> Outcome:
        assert action.item is not None
        existing = self.repository.find(action.key) if resume else None
        if existing is None and action.link is not None:
            existing = self.repository.get(action.link.item_id)
        if existing is not None:
            return self._update(action, existing.id, remote=existing, kind="resume")
        remote = self.repository.create(action.item, action.container)
        new = action.item.metadata
        self._save_link(
            action,
            remote.id,
            remote.url,
            remote.files,
            catalogue_base=dict(new),
            base=_owned(remote.metadata, new),
            in_step=True,
        )
        return Outcome(
            action.key,
            action.label,
            "create",
            "ok",
            item_id=remote.id,
            item_url=remote.url,
            fields=list(new),
            files_sent=len(action.item.files),
        )

    def _update(
        self, action: Action, item_id: str, remote: RemoteItem | None = None, kind: str = "update"
    ) -> Outcome:
        """Bring an existing item in line with the record, touching only what changed.

        Two bases decide it: the catalogue side (what the catalogue said at the last sync) tells
        which fields the catalogue changed; the repository side (what the repository held then)
        tells whether someone edited one of kitab's values there since. Values a cataloguer
        merely added beside kitab's are kept, not treated as edits.
        """
        assert action.item is not None
        remote = remote or self.repository.get(item_id)
        link = action.link
        catalogue_base = link.catalogue_side if link is not None else {}
        repository_base = link.base if link is not None else {}
        new = action.item.metadata
        changes: Metadata = {}
        conflicts: list[Conflict] = []
        kept_catalogue: Metadata = {}  # conflict fields keep their old catalogue base
        for name in dict.fromkeys([*new, *catalogue_base]):
            old_values, new_values = catalogue_base.get(name, []), new.get(name, [])
            remote_values = remote.metadata.get(name, [])
            if link is not None and same(old_values, new_values):
                continue
            edited = link is not None and repository_edited(
                repository_base.get(name, []), remote_values
            )
            if edited and not same(new_values, remote_values) and self.policy != "catalogue-wins":
                if self.policy == "manual":
                    conflicts.append(Conflict(name, old_values, new_values, remote_values))
                kept_catalogue[name] = old_values  # repository-wins: pull brings it back
                continue
            if edited:  # catalogue-wins over an edit: the repository's edited values go too
                before = repository_base.get(name, [])
                remote_values = [v for v in remote_values if any(same([v], [b]) for b in before)]
            final = values_to_write(old_values, new_values, remote_values)
            if not same(final, remote.metadata.get(name, [])):
                changes[name] = final
        written = self.repository.update_metadata(item_id, changes) if changes else None
        files_sent = self._sync_files(item_id, action.item.files, remote.files)
        if remote.public != action.item.public:
            self.repository.set_public(item_id, action.item.public)
        refreshed = self.repository.list_files(item_id) if files_sent else remote.files
        base = dict(repository_base) if link is not None else _owned(remote.metadata, new)
        if written is not None:
            base.update({name: written.metadata.get(name, []) for name in changes})
        catalogue_side = {**new, **kept_catalogue}
        for name, values in kept_catalogue.items():
            if not values:
                catalogue_side.pop(name)
        self._save_link(
            action,
            item_id,
            remote.url,
            refreshed,
            catalogue_base=catalogue_side,
            base=base,
            in_step=not conflicts and not kept_catalogue,
        )
        return Outcome(
            action.key,
            action.label,
            kind,
            "conflict" if conflicts else "ok",
            item_id=item_id,
            item_url=remote.url,
            fields=list(changes),
            files_sent=files_sent,
            conflicts=conflicts,
            message="; ".join(f"{c.field} was edited in the repository" for c in conflicts),
        )

    def _sync_files(self, item_id: str, local: list[FileRef], remote: list[RemoteFile]) -> int:
        """Upload what the item lacks; replace a same-named file whose bytes changed."""
        algorithm = self.repository.checksum_algorithm
        held = {f.checksum for f in remote}
        by_name = {f.name: f for f in remote}
        sent = 0
        for file in local:
            checksum = file.md5 if algorithm == "MD5" else file.sha256
            if checksum in held:
                continue
            previous = by_name.get(file.name)
            if previous is not None:
                self.repository.replace_file(item_id, previous, file)
            else:
                self.repository.add_file(item_id, file)
            sent += 1
        return sent

    def _save_link(
        self,
        action: Action,
        item_id: str,
        item_url: str | None,
        remote_files: list[RemoteFile],
        *,
        catalogue_base: Metadata,
        base: Metadata,
        in_step: bool,
    ) -> None:
        """Save the link; with its source digest sealed in when the item is now in step with
        the record (no conflict kept a field back, every scan is there), else with none."""
        assert action.item is not None
        algorithm = self.repository.checksum_algorithm
        local = {(f.md5 if algorithm == "MD5" else f.sha256): f.name for f in action.item.files}
        files = [
            SyncedFile(local[f.checksum], f.id, f.checksum, f.size)
            for f in remote_files
            if f.checksum in local
        ]
        for file in action.item.files:
            self.store.remember_checksums(file.path, file.md5, file.sha256)
        link = Link(
            target=self.target,
            key=action.key,
            item_id=item_id,
            metadata_hash=metadata_hash(catalogue_base),
            base=base,
            files=files,
            item_url=item_url,
            public=action.item.public,
            catalogue_base=catalogue_base,
        )
        if (
            in_step
            and action.source_digest is not None
            and link.metadata_hash == action.metadata_hash
            and sorted(f.name for f in files) == sorted(f.name for f in action.item.files)
        ):
            link.source_digest = seal(action.source_digest, link)
        self.store.save_link(link)


def _owned(remote: Metadata, mapped: Metadata) -> Metadata:
    """The repository's values of the fields kitab maps: the repository-side base."""
    return {name: list(remote.get(name, [])) for name in mapped}
