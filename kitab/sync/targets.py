"""Building a connector for a target named in kitab.toml.

Lives in the sync room, not in connectors, so that connectors stay ignorant of the configuration
file: they take settings objects, and this is the one place that knows both.
"""

from __future__ import annotations

from kitab.config import TargetConfig
from kitab.connectors.base import Repository
from kitab.connectors.dspace import DSpaceConnector, DSpaceSettings
from kitab.connectors.omeka import OmekaConnector, OmekaSettings
from kitab.connectors.saf import SafConnector

#: the naming each kind of target stores metadata in (SAF packages are read by DSpace)
NAMING = {"dspace": "dspace", "omeka": "omeka", "saf": "dspace"}


def open_repository(target: TargetConfig) -> Repository:
    """A connector for the target; secrets are read here, when the run starts."""
    if target.kind == "dspace":
        assert target.url and target.container and target.user and target.password
        return DSpaceConnector(
            DSpaceSettings(
                url=target.url,
                collection=target.container,
                user=target.user,
                password=target.password,
            )
        )
    if target.kind == "omeka":
        assert target.url and target.key_identity and target.key_credential
        return OmekaConnector(
            OmekaSettings(
                url=target.url,
                key_identity=target.key_identity,
                key_credential=target.key_credential,
                item_set=_ref(target.container),
                resource_template=_ref(target.resource_template),
                resource_class=target.resource_class or "dctype:Text",
            )
        )
    assert target.path is not None
    return SafConnector(target.path, collection=target.container)


def _ref(value: str | None) -> int | str | None:
    """Ids in kitab.toml may be numbers or labels; Omeka settings take either."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value
