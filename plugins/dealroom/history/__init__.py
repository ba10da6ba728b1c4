"""Stage 2: git history and recorded input become each deal's contributor log."""
