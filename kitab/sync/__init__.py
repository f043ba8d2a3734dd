"""sync room (see DESIGN.md)."""
