#!/usr/bin/env bash
# The test command: installs the IMAP servers the tests start (Debian 12, as root), then runs
# go vet and the whole test suite with the race detector.
#
#   scripts/test.sh                       # everything
#   scripts/test.sh -run Foo ./imapsync   # extra arguments go to `go test` (packages default to ./...)
#
# Not root and something missing: prints the apt-get line to run and exits 1.
# Environment: IMAPMIGRATE_CORPUS (default: ../shared/corpus/public beside the repo, if present).
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
# package -> a file it installs, to tell whether it is present without dpkg-query per package.
declare -A need=(
	[dovecot-imapd]=/usr/sbin/dovecot
	[gcc]=/usr/bin/gcc # go test -race needs cgo
	[libc6-dev]=/usr/include/stdio.h
)
missing=()
for pkg in "${!need[@]}"; do
	[ -e "${need[$pkg]}" ] || missing+=("$pkg")
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
