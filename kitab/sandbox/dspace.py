"""A DSpace-compatible server on 127.0.0.1 for the demo and the tests.

It answers under ``/server/api`` like DSpace 7.6, 8.x or 9.x (see ``dspace_version``), with an
administrator and a community holding one collection made on first start, and keeps its state
in ``data_dir`` (SQLite plus an assetstore) so a restart finds everything again. It shares no
code with kitab's connector on purpose: it is written from the reference notes alone, so a
misreading of the contract on one side shows up as a failing test.

    sb = start(tmp_path)            # serving in a background thread
    sb.url                          # http://127.0.0.1:PORT/server
    sb.injector.plan.fail_next = 2  # fault injection (kitab.sandbox.faults)
    sb.stop()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kitab.sandbox.dspace_app import DSpaceApp
from kitab.sandbox.dspace_store import MetadataValue, Store
from kitab.sandbox.dspace_version import Flavour
from kitab.sandbox.dspace_views import UI_URL
from kitab.sandbox.faults import FaultInjector
from kitab.sandbox.server import RunningServer, start_in_thread

COMMUNITY_NAME = "District Library"
COLLECTION_NAME = "Digitised Collection"


@dataclass(frozen=True)
class Layout:
    """The objects made on first start, found again on later starts."""

    community_uuid: str
    collection_uuid: str
    collection_handle: str


def build(
    data_dir: Path,
    *,
    version: str = "9.3",
    jwt_ttl: float = 1800,
    admin_email: str = "admin@example.org",
    admin_password: str = "kitab",
) -> tuple[DSpaceApp, Layout]:
    """Open (or create) the sandbox's state in ``data_dir`` and make its WSGI app."""
    flavour = Flavour.parse(version)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir)
    with store.transaction():
        store.ensure_admin(admin_email, admin_password)
        layout = _first_layout(store)
    return DSpaceApp(store, flavour, jwt_ttl=jwt_ttl), layout


def _first_layout(store: Store) -> Layout:
    communities = store.uuids_of_type(("community",))
    if not communities:
        community = store.new("community", None, handle=store.next_handle())
        community.metadata = {"dc.title": [MetadataValue(COMMUNITY_NAME)]}
        _identify(community)
        store.save(community)
        collection = store.new("collection", community.uuid, handle=store.next_handle())
        collection.metadata = {"dc.title": [MetadataValue(COLLECTION_NAME)]}
        _identify(collection)
        store.save(collection)
        return Layout(community.uuid, collection.uuid, collection.handle or "")
    first = store.children(communities[0], "collection")[0]
    return Layout(communities[0], first.uuid, first.handle or "")


def _identify(dso) -> None:
    dso.metadata["dc.identifier.uri"] = [MetadataValue(f"{UI_URL}/handle/{dso.handle}")]


class DSpaceSandbox:
    """A running sandbox: where it listens, what it made, its fault injector and counters."""

    def __init__(
        self, app: DSpaceApp, layout: Layout, running: RunningServer, user: str, password: str
    ) -> None:
        self.app = app
        self.running = running
        self.user = user  # the administrator's e-mail and password, for clients under test
        self.password = password
        self.community_uuid = layout.community_uuid
        self.collection_uuid = layout.collection_uuid
        self.collection_handle = layout.collection_handle

    @property
    def url(self) -> str:
        return f"{self.running.root}/server"

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def injector(self) -> FaultInjector:
        return self.running.injector

    @property
    def data_dir(self) -> Path:
        return self.app.store.data_dir

    def stats(self) -> dict[str, int]:
        """Requests by method (logins apart), plus "writes" and "total": /_sandbox/stats."""
        return self.injector.stats()

    def reset_stats(self) -> None:
        self.injector.reset_stats()

    def expire_tokens(self) -> None:
        """Revoke every JWT at once, as a logout elsewhere or a server restart would."""
        with self.app.store.transaction():
            self.app.store.blank_all_sessions()

    def stop(self) -> None:
        self.running.stop()
        self.app.store.close()


def start(
    data_dir: Path,
    port: int = 0,
    *,
    version: str = "9.3",
    jwt_ttl: int = 1800,
    admin_email: str = "admin@example.org",
    admin_password: str = "kitab",
    host: str = "127.0.0.1",
) -> DSpaceSandbox:
    """Serve a sandbox in a background thread; port 0 picks a free port."""
    app, layout = build(
        data_dir,
        version=version,
        jwt_ttl=jwt_ttl,
        admin_email=admin_email,
        admin_password=admin_password,
    )
    running = start_in_thread(FaultInjector(app), host=host, port=port)
    return DSpaceSandbox(app, layout, running, admin_email, admin_password)


@dataclass
class Foreground:
    """A sandbox bound to its port, served until Ctrl-C by ``wait()`` (``kitab sandbox dspace``)."""

    app: DSpaceApp
    running: RunningServer

    @property
    def port(self) -> int:
        return self.running.port

    def wait(self) -> None:
        try:
            while self.running.thread.is_alive():
                self.running.thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.running.stop()
            self.app.store.close()


def serve(app: DSpaceApp, *, host: str = "127.0.0.1", port: int = 8080) -> Foreground:
    """Bind ``app`` now (so a busy port fails before anything is announced), serve on wait()."""
    return Foreground(app, start_in_thread(FaultInjector(app), host=host, port=port))
