"""harvest room (see DESIGN.md)."""
