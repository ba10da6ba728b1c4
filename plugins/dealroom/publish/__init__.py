"""Stage 4: built deal sites become published releases behind access control."""
