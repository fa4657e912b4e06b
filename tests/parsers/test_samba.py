"""checks.parsers.samba: smb.conf sections and guest access."""
from checks.parsers.samba import guest_shares, smb_sections

CONF = """[global]
   workgroup = SCHOOL
   Map To Guest = Bad User
;  guest ok = yes
[homes]
   browseable = no
[public]
   path = /srv/public
   Public = Yes
[staff]
   path = /srv/staff
   guest only = no
   valid users = @staff \\
     @admins
"""


def test_sections_normalise_names_and_join_continuations():
    sections = smb_sections(CONF)
    assert [s[0] for s in sections] == ["global", "homes", "public", "staff"]
    assert sections[0][1]["map to guest"] == "Bad User"
    assert sections[3][1]["valid users"] == "@staff @admins"


def test_guest_shares_directly_or_from_global():
    assert guest_shares(smb_sections(CONF)) == ["[public] public = Yes (path = /srv/public)"]
    inherited = smb_sections("[global]\nguest ok = yes\n[a]\npath = /a\n[b]\nguest ok = no\n")
    assert guest_shares(inherited) == ["[a] guest ok = yes (from [global]) (path = /a)"]
