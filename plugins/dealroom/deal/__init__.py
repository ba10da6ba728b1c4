"""Stage 1: a deal folder becomes a validated model (files, YAML, figures)."""
