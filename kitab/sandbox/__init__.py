"""sandbox room (see DESIGN.md)."""
