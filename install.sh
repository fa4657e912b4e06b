#!/bin/sh
# Installs campus-audit into ./.venv on a bare machine: Debian 12, Ubuntu 24.04 (apt) or a dnf-based
# distribution (Rocky/Alma 9, openEuler). Run it as root, or as a user with sudo, from the source tree:
#
#     sh install.sh && .venv/bin/auditctl run
#
# What it may install from the distribution's packages, only when missing: a Python >= 3.11 and its
# venv/ensurepip support (Debian/Ubuntu: python3-venv; Rocky/Alma 9: python3.11). Then it creates
# .venv and pip-installs this tree into it. Every step says what it does; any failure stops it with
# a message naming what to do. INSTALL_DRY_RUN=1 prints the package commands instead of running them.
set -eu

cd "$(dirname "$0")"
OS_RELEASE="${OS_RELEASE:-/etc/os-release}"
VENV="${VENV:-.venv}"

say() { printf '== %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# root runs package commands itself; anyone else goes through sudo (or is told what to install).
as_root() {
  if [ "${INSTALL_DRY_RUN:-0}" = 1 ]; then
    printf 'would run: %s\n' "$*"
    return 0
  fi
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run this script as root, or install sudo)"
  fi
}

# The distribution family from os-release: apt (Debian, Ubuntu) or dnf (RHEL-like, openEuler).
family() {
  [ -r "$OS_RELEASE" ] || { echo unknown; return; }
  ids=$(. "$OS_RELEASE"; echo "${ID:-} ${ID_LIKE:-}")
  case " $ids " in
    *" debian "*|*" ubuntu "*) echo apt ;;
    *" rhel "*|*" fedora "*|*" centos "*|*" rocky "*|*" almalinux "*|*" openEuler "*|*" openeuler "*) echo dnf ;;
    *) echo unknown ;;
  esac
}

APT_UPDATED=0
pkg_install() {
  case "$(family)" in
    apt)
      if [ "$APT_UPDATED" = 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
      fi
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" ;;
    dnf)
      as_root dnf install -y -q "$@" ;;
    *)
      die "unknown distribution (see $OS_RELEASE): install $* yourself, then run this again" ;;
  esac
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
venv_ok() { "$1" -c 'import venv, ensurepip' >/dev/null 2>&1; }

find_python() {
  for p in python3 python3.13 python3.12 python3.11; do
    if command -v "$p" >/dev/null 2>&1 && python_ok "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# 1. A Python >= 3.11.
PY=$(find_python || true)
if [ -z "$PY" ]; then
  say "no Python >= 3.11: installing one"
  case "$(family)" in
    apt) pkg_install python3 python3-venv ;;
    dnf)
      # Rocky/Alma 9 ship 3.9 as python3 and 3.11 as python3.11; openEuler 24.03's python3 is 3.11.
      if dnf -q list --available python3.11 >/dev/null 2>&1; then
        pkg_install python3.11 python3.11-pip
      else
        pkg_install python3 python3-pip
      fi ;;
    *) die "no Python >= 3.11 and an unknown distribution: install Python 3.11 or newer, then run this again" ;;
  esac
  [ "${INSTALL_DRY_RUN:-0}" = 1 ] && exit 0
  PY=$(find_python) || die "still no Python >= 3.11 after installing it"
fi
say "python: $(command -v "$PY") ($("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])'))"

# 2. venv and ensurepip (Debian and Ubuntu split them into python3-venv / python3.X-venv).
if ! venv_ok "$PY"; then
  ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  say "python $ver has no venv/ensurepip: installing it"
  case "$(family)" in
    apt) pkg_install python3-venv "python$ver-venv" ;;
    dnf) pkg_install "$(basename "$PY")-pip" ;;
    *) die "python $ver cannot create a venv: install its venv/ensurepip package, then run this again" ;;
  esac
  [ "${INSTALL_DRY_RUN:-0}" = 1 ] && exit 0
  venv_ok "$PY" || die "python $ver still cannot create a venv"
fi

# 3. The virtual environment and the package.
if [ ! -x "$VENV/bin/pip" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV" || die "'$PY -m venv $VENV' failed"
fi
say "installing campus-audit into $VENV"
"$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/pip" install -q . || die "'$VENV/bin/pip install .' failed (see above)"
"$VENV/bin/auditctl" --help >/dev/null || die "the installed auditctl does not start"
say "installed: $VENV/bin/auditctl"
