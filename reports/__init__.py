"""Reports: the run document (JSON schema), renderers (HTML per school) and, later, scoring and bundles."""
