#!/usr/bin/env bash
# The test command: installs the IMAP servers the tests start (Debian 12, as root), then runs
# go vet and the whole test suite with the race detector.
#
#   scripts/test.sh                       # everything
#   scripts/test.sh -run Foo ./imapsync   # extra arguments go to `go test` (packages default to ./...)
#
# Installs (Debian packages need root; not root and something missing: prints the apt-get line
# and exits 1): dovecot-imapd, gcc, the libraries of Cyrus and Courier; unpacks the Cyrus and
# Courier debs and builds mox into $IMAPMIGRATE_CACHE (default /var/cache/imapmigrate-test as
# root). Sets IMAPMIGRATE_CORPUS to ../shared/corpus/public beside the repo if present and unset.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null 2>&1 || die "go is not installed (go.mod needs $(sed -n 's/^go //p' go.mod)); see https://go.dev/dl/"
# dovecot and friends live in sbin, which a non-root PATH may lack.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

# --- Debian packages --------------------------------------------------------------------------
# dovecot-imapd: the old and new servers; gcc, libc6-dev: cgo for -race; the rest: libraries of
# the unpacked Cyrus and Courier debs (see ../shared/research/test-servers.md) and saslpasswd2.
packages=(dovecot-imapd gcc libc6-dev
	libpcre3 libxapian30 libical3 sasl2-bin
	libcourier-unicode4 libgamin0 libidn12 libltdl7)
missing=()
for pkg in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	log "apt-get update"
	apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

if [ ${#missing[@]} -gt 0 ]; then
	line="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "missing packages; as root run: $line"
	apt_update
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "failed: $line"
fi

# --- Cyrus, Courier, mox in the cache -----------------------------------------------------------
# Cyrus and Courier conflict with Dovecot as packages (imap-server) and would pull in an MTA, so
# their debs are only unpacked; internal/testserver runs them from there. Same default as
# testserver.CacheDir().
if [ -z "${IMAPMIGRATE_CACHE:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		IMAPMIGRATE_CACHE=/var/cache/imapmigrate-test
	else
		IMAPMIGRATE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/imapmigrate-test
	fi
fi
export IMAPMIGRATE_CACHE
mkdir -p "$IMAPMIGRATE_CACHE" || die "cannot create $IMAPMIGRATE_CACHE"

# unpack NAME TESTFILE DEB... : apt-get download the debs (current candidates) and dpkg -x them
# into $IMAPMIGRATE_CACHE/NAME, unless TESTFILE is already there.
unpack() {
	local name=$1 testfile=$2
	shift 2
	local dest=$IMAPMIGRATE_CACHE/$name
	[ -e "$dest/$testfile" ] && return 0
	log "downloading and unpacking $* into $dest"
	[ "$(id -u)" = 0 ] && apt_update
	local tmp
	tmp=$(mktemp -d) || die "mktemp failed"
	chmod 777 "$tmp" # apt's _apt user downloads into the current directory
	(cd "$tmp" && apt-get download -qq "$@") || die "apt-get download $* failed (run apt-get update as root?)"
	rm -rf "$dest.tmp"
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$dest.tmp" || die "dpkg -x $deb failed"
	done
	(cd "$tmp" && ls *.deb) >"$dest.tmp/.debs"
	rm -rf "$dest" "$tmp"
	mv "$dest.tmp" "$dest"
}
unpack cyrus usr/lib/cyrus/bin/master cyrus-common cyrus-imapd
unpack courier usr/sbin/couriertcpd courier-base courier-imap courier-authlib courier-authlib-userdb courier-authdaemon

# mox, pinned (go install @version is refused by the proxy here; a pinned go get works).
mox_version=$(sed -n 's/^const MoxVersion = "\(.*\)"/\1/p' internal/testserver/mox.go)
[ -n "$mox_version" ] || die "MoxVersion not found in internal/testserver/mox.go"
mox_bin=$IMAPMIGRATE_CACHE/mox-$mox_version/mox
if [ ! -x "$mox_bin" ]; then
	log "building mox $mox_version into $mox_bin (about 80 s)"
	tmp=$(mktemp -d) || die "mktemp failed"
	mkdir -p "$(dirname "$mox_bin")"
	if ! (cd "$tmp" && go mod init moxbuild &&
		go get "github.com/mjl-/mox@$mox_version" &&
		CGO_ENABLED=0 go build -o "$mox_bin.tmp" github.com/mjl-/mox) >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		die "building mox $mox_version failed"
	fi
	rm -f "$tmp.log"
	mv "$mox_bin.tmp" "$mox_bin"
	rm -rf "$tmp"
fi

# The package starts a system Dovecot on 143/993 where init scripts may run; the tests start
# their own instances on free ports, so stop it to save CPU. Never pkill: a developer's tests
# may be running dovecot instances of their own.
if [ "$(id -u)" = 0 ] && command -v invoke-rc.d >/dev/null 2>&1; then
	invoke-rc.d dovecot stop >/dev/null 2>&1 || true
fi

# --- Environment for the tests ----------------------------------------------------------------
if [ -z "${IMAPMIGRATE_CORPUS:-}" ] && [ -d "$root/../shared/corpus/public" ]; then
	IMAPMIGRATE_CORPUS=$(cd "$root/../shared/corpus/public" && pwd)
	export IMAPMIGRATE_CORPUS
fi

# --- Tests ------------------------------------------------------------------------------------
# Package patterns among the arguments are vetted too; none means ./... for both.
args=("$@")
pkgs=()
for a in "${args[@]}"; do
	case $a in ./* | ../* | . | github.com/*) pkgs+=("$a") ;; esac
done
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./...)
	args+=(./...)
fi

vet_rc=0
go vet "${pkgs[@]}" || vet_rc=$?
go test -race -count=1 -timeout 60m "${args[@]}"
rc=$?
if [ $rc -eq 0 ] && [ $vet_rc -ne 0 ]; then
	log "go vet failed"
	rc=$vet_rc
fi
exit $rc
