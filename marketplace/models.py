"""Models of the marketplace app (see ../shared/DESIGN.md, "Vocabulary")."""
