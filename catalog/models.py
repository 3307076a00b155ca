"""Models of the catalog app (see ../shared/DESIGN.md, "Vocabulary")."""
