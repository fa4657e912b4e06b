"""The auditor's own data about patches and vulnerabilities, held on the auditor's machine and joined
with a host's facts before its checks run (``audits.run.enrich``): the index of security fixes
(``index.py``: the Debian/Ubuntu security suites' ``Packages`` and the RHEL family's ``updateinfo.xml``,
fetched by the auditor, cached by their Release date or imported for air-gapped sites; archive formats in
``debrepo.py``/``rpmrepo.py``, HTTP in ``fetch.py``) and the dated vulnerability database (``vulndb.py``,
feeds in ``feeds/``, matching in ``vulnmatch.py``). Nothing here talks to an audited host."""
