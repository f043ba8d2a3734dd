"""mappings room (see DESIGN.md)."""
