# Sourced by the scripts that need a Debian package: apt_install SCRIPT PACKAGE installs it as
# root, or says what to run and exits 2 otherwise.
apt_install() {
  local script=$1 package=$2
  if [[ $(id -u) -ne 0 ]]; then
    echo "$script: $package is not installed; run: sudo apt-get install -y $package" >&2
    exit 2
  fi
  echo "$script: installing Debian's $package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
}
