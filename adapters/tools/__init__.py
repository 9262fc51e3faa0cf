"""Developer tools: the generator of the docs that are derived from code."""
