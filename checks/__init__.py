"""The check library: the check contract, the YAML check compiler, parsers of probe output, built-in packs."""
