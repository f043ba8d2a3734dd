"""The log line format: one line per event, key=value, no secret whatever the source."""

from __future__ import annotations

import logging
import sys

from kitab.connectors.omeka_keys import SCRUBBER
from kitab.service.logs import KeyValueFormatter, kv


def line_for(message: str, *args, exc_info=None) -> str:
    record = logging.LogRecord(
        "urllib3.connectionpool", logging.DEBUG, __file__, 1, message, args, exc_info
    )
    return KeyValueFormatter().format(record)


def test_a_line_names_time_level_and_logger_then_the_event():
    line = line_for("event=job-start job=%s", "nightly")
    head, _, rest = line.partition(" ")
    assert head.startswith("time=") and head[5:9].isdigit() and head[-6] in "+-"
    assert rest == "level=DEBUG logger=urllib3.connectionpool event=job-start job=nightly"


def test_values_with_spaces_are_quoted_and_missing_ones_are_a_dash():
    assert kv(record="000101 (qazax.xml, record 1)", item=None, files=3, title='a "b"') == (
        'record="000101 (qazax.xml, record 1)" item=- files=3 title="a \\"b\\""'
    )


def test_secrets_never_reach_the_line_from_urls_pairs_values_or_tracebacks():
    SCRUBBER.add("pw-Xq83-registered")  # as register_secrets does with kitab.toml's secrets
    line = line_for(
        '%s "GET /api/items?key_identity=%s&key_credential=%s HTTP/1.1" 200\npassword=%s %s',
        "http://127.0.0.1:8081",
        "ident-Rk2",
        "cred-Vb7",
        "hunter-Zz9",
        "and pw-Xq83-registered again",
    )
    for secret in ("ident-Rk2", "cred-Vb7", "hunter-Zz9", "pw-Xq83-registered"):
        assert secret not in line
    assert "key_identity=***&key_credential=***" in line
    assert "\n" not in line and "200\\npassword=***" in line
    try:
        raise RuntimeError("login refused: Authorization: Bearer eyJ-tok-Qm4")
    except RuntimeError:
        failed = line_for("event=job-crashed", exc_info=sys.exc_info())
    assert "\n" not in failed and "Traceback (most recent call last):\\n" in failed
    assert "eyJ-tok-Qm4" not in failed and "RuntimeError: login refused" in failed
