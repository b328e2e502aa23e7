#!/bin/sh
# Renders the Dovecot templates of this directory into an instance directory, the way
# internal/testserver does for tests, and optionally runs Dovecot in the foreground.
# Used as the entrypoint of docker-compose.yml; works the same outside Docker:
#
#   sh testdata/dovecot/render.sh old /tmp/olddc 1143          # render only
#   doveconf -c /tmp/olddc/old.conf -n                         # check
#   dovecot -F -c /tmp/olddc/old.conf                          # run (as root)
#   sh testdata/dovecot/render.sh new /srv/dovecot 143 run     # render, then exec dovecot -F
#
# Users come from $USERS ("name:password ..."; default "alice:secret bob:secret") and the master
# user from $MASTER (default "admin:masterpw"). Mail belongs to the system user "mail".
set -eu
if [ $# -lt 3 ]; then
	echo "usage: $0 old|new DIR PORT [run]" >&2
	exit 2
fi
kind=$1 dir=$2 port=$3 mode=${4:-}
case $kind in old | new) ;; *)
	echo "$0: kind must be old or new, not $kind" >&2
	exit 2
	;;
esac
src=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$dir/run" "$dir/state" "$dir/mail"
chmod 0755 "$dir"
for f in common.conf "$kind.conf"; do
	sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g" "$src/$f" >"$dir/$f"
done
if grep -n '@[A-Z]*@' "$dir/common.conf" "$dir/$kind.conf"; then
	echo "$0: unfilled placeholder" >&2
	exit 1
fi

: >"$dir/users.passwd"
for up in ${USERS:-alice:secret bob:secret}; do
	echo "${up%%:*}:{PLAIN}${up#*:}::::::" >>"$dir/users.passwd"
done
master=${MASTER:-admin:masterpw}
echo "${master%%:*}:{PLAIN}${master#*:}::::::" >"$dir/master.passwd"

if [ "$(id -u)" = 0 ]; then
	chown mail:mail "$dir/mail"
fi

if [ "$mode" = run ]; then
	# In a container the log belongs on stderr.
	printf 'log_path = /dev/stderr\ninfo_log_path = /dev/stderr\n' >"$dir/options.conf"
	exec dovecot -F -c "$dir/$kind.conf"
fi
