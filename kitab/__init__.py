"""kitab keeps a library's MARC catalogue and its DSpace or Omeka S repository in step."""

__version__ = "0.1.0"
