#!/bin/bash
# Runs Courier-IMAP 5 (Debian 12 debs unpacked by scripts/test.sh into COURIER_ROOT) without
# installing it, for internal/testserver (StartCourier). Must run as root inside a private mount
# namespace, whose mounts the host never sees:
#
#   COURIER_USERS="alice:secret bob:secret" COURIER_MASTER="admin:masterpw" \
#     setsid unshare -m --propagation private bash courier.sh DIR PORT COURIER_ROOT
#
# Paths compiled into the binaries (/etc/courier, /usr/lib/courier, /run/courier) are served by
# an overlay of the unpacked tree on /etc and /usr and a bind mount of DIR/run on /run.
# Every user gets a Maildir under DIR/home/USER; for each, a userdb alias "USER*admin" with the
# master password opens the same Maildir (Courier has no master users and ignores a PLAIN
# authzid). The script ends by exec'ing couriertcpd, so its pid is the server's; authdaemond
# runs in the same process group (stop the group).
set -euo pipefail
D=$1 PORT=$2 CR=$3
users=${COURIER_USERS:-alice:secret bob:secret}
master=${COURIER_MASTER:-admin:masterpw}

chmod 0755 "$D" # imapd (uid 65534) must be able to chdir to HOME below it
mkdir -p "$D/ovl/up" "$D/ovl/work" "$D/run" "$D/home"
mount -t overlay overlay -o "lowerdir=$CR/etc:/etc,upperdir=$D/ovl/up,workdir=$D/ovl/work" /etc
mount -t overlay overlay -o "lowerdir=$CR/usr:/usr" /usr
mount --bind "$D/run" /run
mkdir -p /run/courier/authdaemon

printf 'authmodulelist="authuserdb"\ndaemons=2\nauthdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=""\n' >/etc/courier/authdaemonrc
rm -rf /etc/courier/userdb /etc/courier/userdb.dat
touch /etc/courier/userdb
chmod 600 /etc/courier/userdb
for up in $users; do
	u=${up%%:*} pw=${up#*:}
	home=$D/home/$u
	mkdir -p "$home"
	maildirmake.courier "$home/Maildir"
	chown -R 65534:65534 "$home"
	userdb "$u" set uid=65534 gid=65534 home="$home" mail="$home/Maildir"
	echo "$pw" | userdbpw | userdb "$u" set imappw
	userdb "$u*${master%%:*}" set uid=65534 gid=65534 home="$home" mail="$home/Maildir"
	echo "${master#*:}" | userdbpw | userdb "$u*${master%%:*}" set imappw
done
makeuserdb

(
	set -a
	. /etc/courier/authdaemonrc
	exec /usr/lib/courier/courier-authlib/authdaemond
) >"$D/authdaemond.log" 2>&1 &
for _ in $(seq 50); do
	[ -S /run/courier/authdaemon/socket ] && break
	sleep 0.1
done

exec env -i PATH=/usr/bin:/bin \
	IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE" \
	IMAP_KEYWORDS=1 IMAP_ACL=1 IMAP_IDLE_TIMEOUT=60 IMAP_UMASK=022 IMAP_USELOCKS=1 IMAP_TRASHFOLDERNAME=Trash \
	/usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=20 -nodnslookup -noidentlookup -stderr="$D/imapd.err" \
	"$PORT" /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir
