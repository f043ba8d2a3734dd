"""The OAI-PMH room: kitab's provider (``kitab serve``) and its harvester (``kitab harvest``).

Provider: :mod:`.index` keeps the catalogue indexed in the state store with datestamps and
persistent deletions, :mod:`.protocol` answers the six verbs from that index, :mod:`.app` is the
WSGI application and :mod:`.server` runs it under waitress. Harvester: :mod:`.client` fetches
and checks pages through sickle, :mod:`.harvester` runs an incremental list with watermarks,
and :mod:`.stores` keeps what was harvested, keyed by OAI identifier.
"""
