"""Models of the instances app (see ../shared/DESIGN.md, "Vocabulary")."""
