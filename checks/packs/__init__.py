"""Built-in check packs, one folder each."""
