"""connectors room (see DESIGN.md)."""
