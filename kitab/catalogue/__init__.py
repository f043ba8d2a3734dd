"""catalogue room (see DESIGN.md)."""
