#!/usr/bin/env bash
# The benchmark: imapmigrate against mbsync (isync) and Dovecot's dsync through imapc, on the
# same old (Maildir, ".", "INBOX.") and new (mdbox, "/") Dovecot servers the tests use. See
# bench/README.md.
#
#   sudo bench/run.sh                  # the standard run (10,000 messages, ~410 MB), ~5 minutes
#   BENCH_MESSAGES=1000 bench/run.sh   # a quick one
#
# Environment:
#   BENCH_MESSAGES  messages of the standard mailbox (default 10000)
#   BENCH_PROFILE   standard (26 folders), wide (50 folders) or onefolder (small messages, all
#                   in INBOX: the memory of one big folder)
#   BENCH_SEED      seed of the data set (default 1); the same seed gives the same bytes
#   BENCH_REPEAT    first copies per tool, each into its own empty user (default 3); the table
#                   shows the median and the range
#   BENCH_NOOP_REPEAT  no-op re-runs per tool (default 5); the table shows the median and the range
#   BENCH_CHANGE_REPEAT  1% changes, each followed by a run of every tool (default 3); median, range
#   BENCH_TOOLS     which tools to run, in order (default "imapmigrate mbsync dsync")
#   BENCH_IMAPMIGRATE_ARGS  extra arguments for every imapmigrate sync (e.g. "--connections 8")
#   BENCH_DOVECOT_CONF  configuration lines added to both Dovecot servers, e.g. their
#                   high-performance login mode (see bench/README.md); stock settings by default
#   BENCH_IDLE_WAIT seconds to wait, before each run, for the rest of the machine to go quiet
#                   (default 120; 0: do not wait). The table shows what others used anyway.
#   BENCH_KEEP=1    keep the temporary directory (servers' logs, manifests, tools' logs)
#   BENCH_OUT       the results file (default bench/results/DATE_TIME.txt)
#
# Needs root: it installs dovecot-imapd, isync and time when missing, and Dovecot drops to the
# "mail" user. Only loopback addresses are used.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

MESSAGES=${BENCH_MESSAGES:-10000}
# The "1% change": new messages and flag changes, each 1% of the mailbox (at least 100).
CHANGE=$(( MESSAGES / 100 > 100 ? MESSAGES / 100 : 100 ))
SEED=${BENCH_SEED:-1}
REPEAT=${BENCH_REPEAT:-3}
NOOP_REPEAT=${BENCH_NOOP_REPEAT:-5}
CHANGE_REPEAT=${BENCH_CHANGE_REPEAT:-3}
TOOLS=${BENCH_TOOLS:-imapmigrate mbsync dsync}
IM_ARGS=${BENCH_IMAPMIGRATE_ARGS:-}
MASTER=admin MASTERPW=masterpw
stamp=$(date +%Y-%m-%d_%H%M%S)
OUT=${BENCH_OUT:-$root/bench/results/$stamp.txt}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# --- tools --------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (sudo bench/run.sh): it installs packages and Dovecot needs root to switch to the mail user"
export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin
command -v go >/dev/null || die "go is not installed (go.mod wants $(sed -n 's/^go //p' go.mod))"
missing=()
command -v dovecot >/dev/null || missing+=(dovecot-imapd)
command -v mbsync >/dev/null || missing+=(isync)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi
id mail >/dev/null 2>&1 || die "no system user 'mail' (common.conf runs the mail storage as mail:mail)"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/imapmigrate-bench.XXXXXX)
chmod 0755 "$TMP"
mkdir -p "$TMP/logs" "$TMP/rows" "$TMP/checks"

PIDS=()
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${BENCH_KEEP:-}" ] || [ $rc -ne 0 ]; then
		log "kept $TMP (servers' logs in old/dovecot.log, new/dovecot.log; tools' output in logs/)"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building imapmigrate and bench/benchtool"
go build -o "$TMP/imapmigrate" ./cmd/imapmigrate || die "go build ./cmd/imapmigrate failed"
go build -o "$TMP/benchtool" ./bench/benchtool || die "go build ./bench/benchtool failed"
BT=$TMP/benchtool
IM=$TMP/imapmigrate

BATCH=
if [[ " $TOOLS " == *" imapmigrate "* ]] && "$IM" sync --help 2>&1 | grep -q -- '--users'; then
	BATCH=1
fi

# --- servers ------------------------------------------------------------------------------------
OLD=$TMP/old NEW=$TMP/new
OLDPORT=$("$BT" freeport)
NEWPORT=$("$BT" freeport)
while [ "$NEWPORT" = "$OLDPORT" ]; do NEWPORT=$("$BT" freeport); done

batch_users=()
if [ -n "$BATCH" ]; then
	for i in $(seq -w 1 20); do batch_users+=("u$i"); done
fi
old_users="alice:secret bob:secret big:secret tiny:secret"
# dst_user TOOL REP: the destination user of alice's copy by TOOL in repetition REP.
dst_user() {
	local t=${1#imapmigrate-}
	if [ "$2" = 1 ]; then echo "alice_$t"; else echo "alice_${t}_r$2"; fi
}
new_users=
for r in $(seq 1 "$REPEAT"); do
	for t in imapmigrate imapmigrate-c1 imapmigrate-c2 mbsync dsync; do new_users+=" $(dst_user "$t" "$r"):secret"; done
done
for u in tiny big; do
	for t in imapmigrate mbsync dsync; do new_users+=" ${u}_$t:secret"; done
done
new_users+=" tiny_bwcap:secret"
for u in "${batch_users[@]}"; do
	old_users+=" $u:secret"
	new_users+=" $u:secret"
done
USERS=$old_users sh testdata/dovecot/render.sh old "$OLD" "$OLDPORT" >/dev/null
USERS=$new_users sh testdata/dovecot/render.sh new "$NEW" "$NEWPORT" >/dev/null
# As internal/testserver does: listen on loopback only.
echo 'listen = 127.0.0.1' >"$OLD/options.conf"
echo 'listen = 127.0.0.1' >"$NEW/options.conf"
DOVECOT_CONF=${BENCH_DOVECOT_CONF:-}
if [ -n "$DOVECOT_CONF" ]; then
	printf '%s\n' "$DOVECOT_CONF" >>"$OLD/options.conf"
	printf '%s\n' "$DOVECOT_CONF" >>"$NEW/options.conf"
fi

mailuid=$(id -u mail) mailgid=$(id -g mail)
log "writing the source mailboxes as Maildir (seed $SEED)"
gen() { # user profile [count]
	mkdir -p "$OLD/mail/$1"
	"$BT" gen -maildir "$OLD/mail/$1/Maildir" -profile "$2" -count "${3:-0}" -seed "$SEED" -uid "$mailuid" -gid "$mailgid"
	chown "$mailuid:$mailgid" "$OLD/mail/$1"
}
t0=$(date +%s.%N)
dataset=$(gen alice "${BENCH_PROFILE:-standard}" "$MESSAGES")
log "alice: $dataset ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
gen big big >/dev/null
gen tiny small 300 >/dev/null
for u in "${batch_users[@]}"; do gen "$u" small 300 >/dev/null; done

dovecot -F -c "$OLD/old.conf" >"$OLD/dovecot.out" 2>&1 &
OLDPID=$!
PIDS+=("$OLDPID")
dovecot -F -c "$NEW/new.conf" >"$NEW/dovecot.out" 2>&1 &
NEWPID=$!
PIDS+=("$NEWPID")
"$BT" wait -addr "127.0.0.1:$OLDPORT" -user alice ||
	die "old Dovecot did not start: $(tail -5 "$OLD/dovecot.log" "$OLD/dovecot.out" 2>/dev/null)"
"$BT" wait -addr "127.0.0.1:$NEWPORT" -user alice_imapmigrate ||
	die "new Dovecot did not start: $(tail -5 "$NEW/dovecot.log" "$NEW/dovecot.out" 2>/dev/null)"
log "old Dovecot (Maildir) on 127.0.0.1:$OLDPORT, new Dovecot (mdbox) on 127.0.0.1:$NEWPORT"

# --- measuring ----------------------------------------------------------------------------------
srv_cpu() { "$BT" cpu "$1" 2>/dev/null || echo 0; }
# busy: CPU seconds the whole machine has spent (user, nice, system, irq, softirq, steal), to tell
# how much went to processes other than the tool and the two servers during a run.
busy() { awk '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8+$9)/100}' /proc/stat; }
REP=1
IDLE_WAIT=${BENCH_IDLE_WAIT:-120}
# wait_idle: waits (at most IDLE_WAIT seconds in all, per call) until the machine spends less than
# 15% of one core over a second, so that a test suite running beside the benchmark does not
# distort a run.
wait_idle() {
	[ "$IDLE_WAIT" -gt 0 ] || return 0
	local start=$SECONDS a b said=
	while :; do
		a=$(busy)
		sleep 1
		b=$(busy)
		awk -v a="$a" -v b="$b" 'BEGIN{exit !(b-a < 0.15)}' && return 0
		if [ $((SECONDS - start)) -ge "$IDLE_WAIT" ]; then
			log "the machine is still busy after ${IDLE_WAIT}s; measuring anyway (see 'other s')"
			return 0
		fi
		if [ -z "$said" ]; then
			log "something else is using the CPU ($(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f%%", (b-a)*100}') of one core); waiting for quiet"
			said=1
		fi
	done
}

# measure TOOL RUN MSGS BYTES cmd... : runs cmd under /usr/bin/time -v and records wall, CPU and
# max RSS of the tool, the CPU the two servers spent meanwhile and that of everything else on the
# machine, in $TMP/rows/TOOL.RUN.REP.
measure() {
	local tool=$1 run=$2 msgs=$3 bytes=$4
	shift 4
	local key=$tool.$run.$REP
	local tlog=$TMP/logs/$key.log tf=$TMP/logs/$key.time
	local s0 d0 s1 d1 b0 b1 t0 t1 rc=0
	# The previous run's writes (a first copy leaves 400 MB of dirty pages) go to disk now, not
	# during this run: otherwise the kernel's writeback lands on whichever tool comes next.
	sync
	wait_idle
	s0=$(srv_cpu "$OLDPID")
	d0=$(srv_cpu "$NEWPID")
	log "$tool: $run${REPEAT_LABEL:-} ..."
	b0=$(busy)
	t0=$(date +%s.%N)
	/usr/bin/time -v -o "$tf" "$@" >"$tlog" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	sleep 0.5 # the servers' imap processes exit after LOGOUT and are reaped by the master
	b1=$(busy)
	s1=$(srv_cpu "$OLDPID")
	d1=$(srv_cpu "$NEWPID")
	local user sys rss
	user=$(sed -n 's/^\s*User time (seconds): //p' "$tf")
	sys=$(sed -n 's/^\s*System time (seconds): //p' "$tf")
	rss=$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$tf")
	awk -v tool="$tool" -v run="$run" -v t0="$t0" -v t1="$t1" -v m="$msgs" -v b="$bytes" \
		-v u="${user:-0}" -v s="${sys:-0}" -v rss="${rss:-0}" -v s0="$s0" -v s1="$s1" -v d0="$d0" -v d1="$d1" -v rc="$rc" \
		-v b0="$b0" -v b1="$b1" \
		'BEGIN{o = (b1-b0) - (u+s) - (s1-s0) - (d1-d0); if (o < 0) o = 0;
		printf "%s\t%s\t%.3f\t%d\t%.1f\t%.2f\t%.0f\t%.2f\t%.2f\t%d\t%.2f\n", tool, run, t1-t0, m, b/1e6, u+s, rss/1024, s1-s0, d1-d0, rc, o}' \
		>"$TMP/rows/$key"
	if [ $rc -ne 0 ]; then
		log "$tool: $run exited with status $rc; the end of its output:"
		tail -15 "$tlog" >&2
	else
		log "$tool: $run done in $(cut -f3 "$TMP/rows/$key") s (CPU of other processes meanwhile: $(cut -f11 "$TMP/rows/$key") s)"
	fi
	return 0
}

# check TOOL RUN WANT USER: hashes USER's mailbox on the new server and compares it with the
# manifest WANT.
check() {
	local tool=$1 run=$2 want=$3 user=$4
	local key=$tool.$run.$REP
	local got=$TMP/$user.$run.json
	if ! "$BT" hash -addr "127.0.0.1:$NEWPORT" -user "$user" -out "$got" >/dev/null 2>"$TMP/logs/hash.err"; then
		echo "check failed: $(cat "$TMP/logs/hash.err")" >"$TMP/checks/$key"
		return 0
	fi
	"$BT" compare -want "$want" -got "$got" -details "$TMP/logs/$key.diff" >"$TMP/checks/$key"
	log "$tool: $run check: $(cat "$TMP/checks/$key")"
}

export IMAPMIGRATE_SRC_PASSWORD=$MASTERPW IMAPMIGRATE_DST_PASSWORD=$MASTERPW

# mbsync_conf SRCUSER DSTUSER: an IMAP-to-IMAP channel "migrate" for one user, its own sync state.
mbsync_conf() {
	local conf=$TMP/mbsyncrc.$2
	mkdir -p "$TMP/mbsync-state/$2"
	cat >"$conf" <<EOF
IMAPAccount old
Host 127.0.0.1
Port $OLDPORT
User $1*$MASTER
Pass $MASTERPW
SSLType None
AuthMechs LOGIN

IMAPStore old
Account old

IMAPAccount new
Host 127.0.0.1
Port $NEWPORT
User $2*$MASTER
Pass $MASTERPW
SSLType None
AuthMechs LOGIN

IMAPStore new
Account new

Channel migrate
Far :old:
Near :new:
Patterns *
Create Near
Sync Pull
Expunge None
CopyArrivalDate yes
SyncState $TMP/mbsync-state/$2/
EOF
	echo "$conf"
}

# dsync_cmd SRCUSER DSTUSER: sets dsync to doveadm backup from the old server through imapc into
# the new server's mdbox, run with the new server's configuration.
dsync_cmd() {
	dsync=(doveadm -c "$NEW/new.conf"
		-o imapc_host=127.0.0.1 -o "imapc_port=$OLDPORT"
		-o "imapc_user=$1" -o "imapc_master_user=$MASTER" -o "imapc_password=$MASTERPW"
		-o "imapc_features=rfc822.size fetch-headers" -o imapc_list_prefix=INBOX
		-o mail_prefetch_count=20
		backup -R -u "$2" imapc:)
}

# /usr/bin/time runs a program, not a shell function: a small wrapper script.
cat >"$TMP/run_imapmigrate" <<EOF
#!/bin/sh
# run_imapmigrate SRCUSER DSTUSER [more flags]
src=\$1 dst=\$2
shift 2
exec "$IM" sync --src "127.0.0.1:$OLDPORT" --src-user "\$src" --src-master "$MASTER" --src-tls none \\
	--dst "127.0.0.1:$NEWPORT" --dst-user "\$dst" --dst-master "$MASTER" --dst-tls none \\
	--state-dir "$TMP/state/\$dst" --progress never $IM_ARGS "\$@"
EOF
chmod +x "$TMP/run_imapmigrate"

# run_tool TOOL RUN MSGS BYTES SRCUSER DSTUSER [extra imapmigrate flags]
run_tool() {
	local tool=$1 run=$2 msgs=$3 bytes=$4 src=$5 dst=$6
	shift 6
	case $tool in
	imapmigrate*) measure "$tool" "$run" "$msgs" "$bytes" "$TMP/run_imapmigrate" "$src" "$dst" "$@" ;;
	mbsync) measure mbsync "$run" "$msgs" "$bytes" mbsync -c "$(mbsync_conf "$src" "$dst")" migrate ;;
	dsync)
		dsync_cmd "$src" "$dst"
		measure dsync "$run" "$msgs" "$bytes" "${dsync[@]}"
		;;
	*) die "unknown tool $tool" ;;
	esac
}

# src_hash USER OUT: the manifest of USER on the old server; prints "messages bytes folders".
src_hash() {
	"$BT" hash -addr "127.0.0.1:$OLDPORT" -user "$1" -out "$2" 2>"$TMP/logs/srchash.err" ||
		die "hashing $1 on the old server failed: $(cat "$TMP/logs/srchash.err")"
}

# --- the runs -----------------------------------------------------------------------------------
log "hashing the source over IMAP (also builds the old server's indexes before any tool runs)"
t0=$(date +%s.%N)
out=$(src_hash alice "$TMP/src0.json")
read -r SRC_MSGS SRC_BYTES SRC_FOLDERS <<<"$out"
log "source: $SRC_MSGS messages, $SRC_BYTES bytes as served over IMAP ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"

# First copies, REPEAT times, the tools taking turns so that a disturbance from outside does not
# hit one tool's runs only; with imapmigrate, also its first copy with --connections 1 and 2.
first_tools=
for tool in $TOOLS; do
	first_tools+=" $tool"
	[ "$tool" = imapmigrate ] && first_tools+=" imapmigrate-c1 imapmigrate-c2"
done
for REP in $(seq 1 "$REPEAT"); do
	REPEAT_LABEL=" ($REP of $REPEAT)"
	for tool in $first_tools; do
		extra=()
		case $tool in imapmigrate-c*) extra=(--connections "${tool#imapmigrate-c}") ;; esac
		dst=$(dst_user "$tool" "$REP")
		run_tool "$tool" first "$SRC_MSGS" "$SRC_BYTES" alice "$dst" "${extra[@]}"
		check "$tool" first "$TMP/src0.json" "$dst"
	done
done
# touch SRCUSER DSTUSER: one LIST-STATUS of both users before a timed repeat run, and every source
# folder opened once, so that no tool pays for settling the indexes after another tool's reads or
# the new mail after a change (see benchtool touch).
touch_users() {
	"$BT" touch -open -addr "127.0.0.1:$OLDPORT" -user "$1" >>"$TMP/logs/touch.log" 2>&1 || die "touch $1 failed: $(tail -1 "$TMP/logs/touch.log")"
	"$BT" touch -addr "127.0.0.1:$NEWPORT" -user "$2" >>"$TMP/logs/touch.log" 2>&1 || die "touch $2 failed: $(tail -1 "$TMP/logs/touch.log")"
}

# No-op runs, NOOP_REPEAT times, the tools taking turns; the first of each is checked.
for REP in $(seq 1 "$NOOP_REPEAT"); do
	REPEAT_LABEL=" ($REP of $NOOP_REPEAT)"
	for tool in $TOOLS; do
		touch_users alice "alice_$tool"
		run_tool "$tool" noop 0 0 alice "alice_$tool"
		[ "$REP" = 1 ] && check "$tool" noop "$TMP/src0.json" "alice_$tool"
	done
done
REP=1 REPEAT_LABEL=

# 1% changes, CHANGE_REPEAT times (each a new change, seeded apart), every tool after each; the
# row is the median. Each tool's copy is checked after the last.
prev_msgs=$SRC_MSGS prev_bytes=$SRC_BYTES
for REP in $(seq 1 "$CHANGE_REPEAT"); do
	REPEAT_LABEL=" ($REP of $CHANGE_REPEAT)"
	log "changing 1% of the source$REPEAT_LABEL: $CHANGE new messages, flags of $CHANGE others"
	"$BT" change -addr "127.0.0.1:$OLDPORT" -user alice -seed "$((SEED + REP - 1))" -new "$CHANGE" -flags "$CHANGE" >"$TMP/logs/change.log" 2>&1 ||
		die "changing the source failed: $(cat "$TMP/logs/change.log")"
	log "$(cat "$TMP/logs/change.log")"
	out=$(src_hash alice "$TMP/src1.json")
	read -r SRC1_MSGS SRC1_BYTES _ <<<"$out"
	NEW_MSGS=$((SRC1_MSGS - prev_msgs)) NEW_BYTES=$((SRC1_BYTES - prev_bytes))
	prev_msgs=$SRC1_MSGS prev_bytes=$SRC1_BYTES
	for tool in $TOOLS; do
		touch_users alice "alice_$tool"
		run_tool "$tool" 1pct "$NEW_MSGS" "$NEW_BYTES" alice "alice_$tool"
		if [ "$REP" = "$CHANGE_REPEAT" ]; then check "$tool" 1pct "$TMP/src1.json" "alice_$tool"; fi
	done
done
REP=1 REPEAT_LABEL=

# Memory: 300 small messages, then one 20 MB and one 50 MB message.
for u in tiny big; do
	out=$(src_hash "$u" "$TMP/$u.src.json")
	read -r m b _ <<<"$out"
	for tool in $TOOLS; do
		run_tool "$tool" "$u" "$m" "$b" "$u" "${u}_$tool"
		check "$tool" "$u" "$TMP/$u.src.json" "${u}_$tool"
	done
done

# --max-bandwidth: the tiny mailbox at 1 MB/s must take at least its size / rate, less the one
# second of burst the limiter allows (a loose check, printed with the results).
bw_note="bandwidth check: skipped (imapmigrate not among the tools)"
case " $TOOLS " in *" imapmigrate "*)
	out=$(src_hash tiny "$TMP/tiny.src.json")
	read -r m b _ <<<"$out"
	run_tool imapmigrate bwcap "$m" "$b" tiny tiny_bwcap --max-bandwidth 1M
	check imapmigrate bwcap "$TMP/tiny.src.json" tiny_bwcap
	wall=$(cut -f3 "$TMP"/rows/imapmigrate.bwcap.*)
	bw_note=$(awk -v w="$wall" -v b="$b" 'BEGIN{need = b/1e6 - 1; if (need < 0) need = 0;
		printf "bandwidth check: %s: %.1f MB at --max-bandwidth 1M took %.2f s (at least %.2f s expected)", (w >= need ? "OK" : "FAIL"), b/1e6, w, need}')
	log "$bw_note"
	;;
esac

batch_note="batch (20 users x 300 messages): skipped, this imapmigrate has no --users flag (imapmigrate sync --help)"
if [ -n "$BATCH" ]; then
	{
		echo "src_user,dst_user"
		for u in "${batch_users[@]}"; do echo "$u,$u"; done
	} >"$TMP/users.csv"
	bm=0 bb=0
	for u in "${batch_users[@]}"; do
		out=$(src_hash "$u" "$TMP/$u.src.json")
		read -r m b _ <<<"$out"
		bm=$((bm + m)) bb=$((bb + b))
	done
	# --users takes a CSV with the header src_user,dst_user (imapmigrate sync --help).
	# shellcheck disable=SC2086
	measure imapmigrate batch20 "$bm" "$bb" "$IM" sync --src "127.0.0.1:$OLDPORT" --src-master "$MASTER" --src-tls none \
		--dst "127.0.0.1:$NEWPORT" --dst-master "$MASTER" --dst-tls none --users "$TMP/users.csv" \
		--state-dir "$TMP/state/batch" --progress never $IM_ARGS
	bad=0
	for u in "${batch_users[@]}"; do
		check batch "$u" "$TMP/$u.src.json" "$u"
		grep -q '^bytes=OK core=OK flags=OK dates=OK' "$TMP/checks/batch.$u.1" || bad=$((bad + 1))
	done
	if [ "$bad" = 0 ]; then
		echo "bytes=OK core=OK flags=OK dates=OK (all 20 users)" >"$TMP/checks/imapmigrate.batch20.1"
	else
		echo "bytes=FAIL: $bad of 20 users differ (see the log)" >"$TMP/checks/imapmigrate.batch20.1"
	fi
	rm -f "$TMP"/checks/batch.*
	batch_note="batch20: imapmigrate sync --users users.csv (src_user,dst_user; default --jobs), 20 users x 300 messages, each user checked"
fi

# --- report -------------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
mb() { awk -v b="$1" 'BEGIN{printf "%.1f MB", b/1e6}'; }
mkdir -p "$(dirname "$OUT")"
{
	echo "imapmigrate benchmark, $(date '+%Y-%m-%d %H:%M %Z'), $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), load average before/after: $LOAD_START / $LOAD_END"
	echo "imapmigrate $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?') (--connections 4 unless said)${IM_ARGS:+ extra flags: $IM_ARGS}; $(mbsync --version | head -1); dovecot $(dovecot --version | cut -d' ' -f1); $(go version | cut -d' ' -f3)"
	if [ -n "$DOVECOT_CONF" ]; then
		echo "both Dovecot servers with: $(printf '%s' "$DOVECOT_CONF" | tr '\n' ' ' | tr -s ' ')"
	fi
	echo "source: alice, $SRC_MSGS messages, $(mb "$SRC_BYTES") in $SRC_FOLDERS folders (seed $SEED); 1% change: $NEW_MSGS new messages ($(mb "$NEW_BYTES")) + flag changes on $CHANGE"
	echo
	printf '%-14s %-6s %7s %-11s %6s %6s %7s %6s %6s %6s %8s %8s %7s  %s\n' tool run "wall s" "(range)" msgs MB "msgs/s" "MB/s" "CPU s" "RSS MB" "srcsrv s" "dstsrv s" "other s" check
	for run in first noop 1pct tiny big bwcap batch20; do
		for tool in imapmigrate imapmigrate-c1 imapmigrate-c2 mbsync dsync; do
			compgen -G "$TMP/rows/$tool.$run.*" >/dev/null || continue
			# The checks of all repetitions, shortened; one line if they agree.
			chk=$(for f in "$TMP/checks/$tool.$run".*; do
				[ -f "$f" ] || continue
				awk '{for(i=1;i<=NF;i++){split($i,a,"="); if(a[1]=="bytes"||a[1]=="flags"||a[1]=="dates"||a[1]=="core") printf "%s%s=%s", (n++?" ":""), a[1], a[2]}; print ""}' "$f"
			done | sort -u | paste -sd'|' -)
			# The median run by wall time, and the range.
			cat "$TMP/rows/$tool.$run".* | sort -t$'\t' -k3,3n | awk -F'\t' -v chk="${chk:--}" '
				{ row[NR] = $0; w[NR] = $3; bad += ($10 != 0) }
				END {
					split(row[int((NR+1)/2)], f, "\t");
					# Runs under a second get milliseconds.
					fmt = (w[NR] < 1) ? "%.3f" : "%.2f";
					range = (NR > 1) ? sprintf(fmt "-" fmt, w[1], w[NR]) : "";
					wall = sprintf((f[3] < 1) ? "%7.3f" : "%7.2f", f[3]);
					rate = (f[4] > 0 && f[3] > 0) ? sprintf("%.0f", f[4]/f[3]) : "-";
					mbs = (f[4] > 0 && f[3] > 0) ? sprintf("%.1f", f[5]/f[3]) : "-";
					st = bad ? sprintf(" EXIT %d (%d of %d runs)", f[10], bad, NR) : "";
					printf "%-14s %-6s %7s %-11s %6d %6.1f %7s %6s %6.2f %6d %8.2f %8.2f %7.2f  %s%s\n", f[1], f[2], wall, range, f[4], f[5], rate, mbs, f[6], f[7], f[8], f[9], f[11], chk, st }'
		done
	done
	echo
	echo "runs: first = first copy into an empty user; noop = the same again with nothing changed; 1pct = after"
	echo "  the 1% change; tiny = 300 small messages (user tiny); big = one 20 MB and one 50 MB message (user big)."
	echo "  imapmigrate-cN: imapmigrate's first copy with --connections N."
	echo "first: $REPEAT runs per tool, each into its own empty user; noop: $NOOP_REPEAT runs per tool; 1pct: $CHANGE_REPEAT changes, each tool run after each; the row is the"
	echo "  median run by wall time, (range) the fastest and slowest. Before each noop and 1pct run both users got one"
	echo "  untimed LIST-STATUS (benchtool touch), so that no tool pays for settling indexes after another's reads."
	echo "msgs, MB: what the run had to copy (as served over IMAP, CRLF). CPU s, RSS MB: the tool's process"
	echo "  (user+sys, max RSS, from /usr/bin/time -v). srcsrv s, dstsrv s: CPU of all the old and the new Dovecot's"
	echo "  processes during the run. dsync writes the new mdbox itself: its destination work is in its CPU s."
	echo "  other s: CPU the rest of the machine used meanwhile (from /proc/stat, incl. steal): well above 0.3"
	echo "  means something else was running and the row's wall time is not to be trusted."
	echo "check: bytes = per folder, the multiset of SHA-256 of the messages equals the source's; core = the same"
	echo "  ignoring X-TUID: header lines; flags, dates = flags+keywords and INTERNALDATE of every message, paired by"
	echo "  core hash. Every 'first' and 'noop' is checked against the source before the change, 1pct after it."
	echo "$batch_note"
	echo "$bw_note"
	echo
	echo "every first copy (wall s, CPU s, RSS MB, srcsrv s, dstsrv s, other s):"
	for tool in imapmigrate imapmigrate-c1 imapmigrate-c2 mbsync dsync; do
		compgen -G "$TMP/rows/$tool.first.*" >/dev/null || continue
		printf '  %-14s %s\n' "$tool" "$(cat "$TMP/rows/$tool.first".* | awk -F'\t' '{printf "%s[%.2f %.2f %d %.2f %.2f %.2f]", (NR>1?" ":""), $3, $6, $7, $8, $9, $11}')"
	done
	echo
	echo "checks in full:"
	for f in "$TMP"/checks/*; do
		[ -f "$f" ] && printf '  %-22s %s\n' "$(basename "$f")" "$(cat "$f")"
	done
	echo
	echo "imapmigrate's own summaries:"
	for f in "$TMP"/logs/imapmigrate*.log; do
		[ -f "$f" ] || continue
		printf '  %-22s %s\n' "$(basename "$f" .log)" "$(grep -E '^ *(messages|bytes):|^[0-9]+ users:' "$f" | tr -s ' ' | tr '\n' ';')"
	done
	echo
	echo "commands (for alice; \$TMP is the run's temporary directory, ports were free loopback ports):"
	echo "  imapmigrate: IMAPMIGRATE_SRC_PASSWORD=$MASTERPW IMAPMIGRATE_DST_PASSWORD=$MASTERPW $IM sync --src 127.0.0.1:$OLDPORT --src-user alice --src-master $MASTER --src-tls none --dst 127.0.0.1:$NEWPORT --dst-user alice_imapmigrate --dst-master $MASTER --dst-tls none --state-dir $TMP/state/alice_imapmigrate --progress never $IM_ARGS" | sed "s#$TMP#\$TMP#g"
	echo "  mbsync:      mbsync -c $TMP/mbsyncrc.alice_mbsync migrate" | sed "s#$TMP#\$TMP#g"
	sed 's/^/                 /' "$TMP/mbsyncrc.alice_mbsync" 2>/dev/null | grep -v '^ *$' | sed "s#$TMP#\$TMP#g" || true # no mbsync in BENCH_TOOLS: no file
	dsync_cmd alice alice_dsync
	echo "  dsync:       ${dsync[*]}" | sed "s#$TMP#\$TMP#g"
} >"$OUT"
cat "$OUT"
# Keep the differences next to the results when there are any.
for d in "$TMP"/logs/*.diff; do
	[ -s "$d" ] || continue
	mkdir -p "${OUT%.txt}.diff"
	cp "$d" "${OUT%.txt}.diff/"
done
log "results in $OUT"
