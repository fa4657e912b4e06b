"""checks.parsers.packages: dpkg status, security-list versions and Debian version order."""
from checks.parsers.packages import debian_version_newer, dpkg_versions, list_versions


def test_dpkg_keeps_installed_packages_without_arch():
    text = "openssh-server 1:9.2p1-2+deb12u3 ii\nlibssl3:amd64 3.0.15-1~deb12u1 ii\ntelnetd 0.17-44 rc\n"
    assert dpkg_versions(text) == {"openssh-server": "1:9.2p1-2+deb12u3", "libssl3": "3.0.15-1~deb12u1"}


def test_list_versions_keep_the_highest_offered():
    lv = list_versions("@list deb.debian.org_debian-security_dists_bookworm-security\nopenssl 3.0.15-1~deb12u1\n"
                       "openssl 3.0.16-1~deb12u1\nstray\n@list other\nopenssl 3.0.11-1~deb12u2\n")
    assert lv.lists == ["deb.debian.org_debian-security_dists_bookworm-security", "other"]
    assert lv.best == {"openssl": "3.0.16-1~deb12u1"}


def test_debian_order_epoch_tilde_and_garbage():
    assert debian_version_newer("1:1.0", "9.9") and not debian_version_newer("1.0~rc1", "1.0")
    assert not debian_version_newer("!!", "1.0")
