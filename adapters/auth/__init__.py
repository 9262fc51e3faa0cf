"""Who is calling: bearer tokens, their keys, and the development key that mints them."""
