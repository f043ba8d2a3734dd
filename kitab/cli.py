"""The command line: parse, call the rooms, print. No logic lives here.

Exit codes: 0 success; 1 the job ran but something failed (records skipped, items not pushed,
validation errors); 2 usage or configuration error (click's own); 3 a repository or source could
not be reached or refused us.
"""

from __future__ import annotations

import click

from kitab import __version__

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kitab")
def main() -> None:
    """Keep a library's MARC catalogue and its DSpace or Omeka S repository in step."""


@main.group()
def sandbox() -> None:
    """Run a local DSpace- or Omeka-S-compatible server for trying kitab out."""


# --- catalogue commands (inspect, check, convert) -------------------------------------------

# --- sandbox commands ------------------------------------------------------------------------
