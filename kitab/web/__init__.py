"""The cataloguers' web application (``kitab web``): status, runs, records and conflicts.

Server-rendered pages on Flask, served by waitress like the OAI-PMH provider, in Azerbaijani,
Uzbek, Russian and English. It reads the state store and the catalogue, and changes nothing
except through :class:`kitab.sync.conflicts.ConflictStore` — the same path as ``kitab resolve``.
"""
