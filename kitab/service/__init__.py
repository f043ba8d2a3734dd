"""kitab as a service: jobs named in kitab.toml, run now (``kitab run``) or on schedule
(``kitab daemon``), never two at once on the same job or target, each run kept in the state
store, and a status an administrator (or the web UI) can read at a glance.

The room sits on top of the others: it calls the sync engine, the harvester and the catalogue
writer exactly as the commands do, and none of them knows it exists.
"""
