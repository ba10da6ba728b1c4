"""Stage 3: a validated deal becomes the pages of its own MkDocs site."""
