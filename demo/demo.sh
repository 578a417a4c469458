#!/bin/sh
# demo.sh: watch list mail flow from an intake maildir into list queues,
# first through the streaming pipeline, then through the shell loop, and
# see what was parked and why. `make demo` builds bin/ and runs it; it
# needs no root and writes only under demo/out/.
#
# demo/mail holds the deliveries: fourteen copied byte for byte from
# testdata/mta (Postfix virtual(8) and Exim, under the names their MTA
# gave them), and two made by hand (*.demo.example.test): one with no
# envelope header at all, one for a list demo/lists does not name.
set -eu
cd "$(dirname "$0")/.."

for t in mdclaim mdroute mdsweep mdfail mdq; do
	if [ ! -x "bin/$t" ]; then
		echo "demo: bin/$t is missing: run make demo" >&2
		exit 111
	fi
done
out=demo/out
rm -rf "$out"
mkdir -p "$out"

# intake DIR: a fresh intake maildir with every sample in new/, as if the
# MTA had just delivered them.
intake() {
	mkdir -p "$1/tmp" "$1/new" "$1/cur"
	cp demo/mail/* "$1/new/"
}

# queue DIR: a queue with a directory for each list of demo/lists. A list
# exists when QUEUE/LIST does: mdsweep makes neither QUEUE nor a list
# (unless -C), so a typo never makes a queue; it makes each list's
# SUBQUEUE maildirs on first use.
queue() {
	mkdir -p "$1"
	grep -v '^#' demo/lists | while read -r l; do
		if [ -n "$l" ]; then mkdir -p "$1/$l"; fi
	done
}

# label FILE: the sample's case name, from its X-Fixture-Case field.
label() {
	sed -n '/^$/q; s/^X-Fixture-Case: //p' "$1"
}

# placed QUEUE: a line per message in the queue tree, sorted:
# case, LIST/SUBQUEUE, unique name.
placed() {
	find "$1" -type f -path '*/new/*' | while read -r f; do
		d=${f#"$1"/}
		printf '%s\t%s\t%s\n' "$(label "$f")" "${d%%/new/*}" "${f##*/}"
	done | sort
}

# report INTAKE QUEUE LOG: where each message went, what was parked and
# why, and what is left in the intake.
report() {
	echo
	echo "  handed off: QUEUE/LIST/SUBQUEUE/new/B"
	placed "$2" | while IFS='	' read -r c dest b; do
		printf '    %-24s -> %-15s %s\n' "$c" "$dest" "$b"
	done
	echo
	echo "  parked as X: cur/B:1,X, and why, kept with it (mdq -l: no log needed)"
	bin/mdq -l "$1" | while IFS='	' read -r x state age why rest; do
		[ "$state" = parked ] || continue
		printf '    %-24s    %s\n        %s\n' "$(label "$x")" "${x##*/}" "$why"
	done
	echo
	printf '  left in new/: %s, claims left in cur/: %s\n' \
		"$(ls "$1/new" | wc -l | tr -d ' ')" \
		"$(ls "$1/cur" | grep -c ':1,P$' || :)"
}

n=$(ls demo/mail | wc -l | tr -d ' ')
echo "mdpipe demo: $n deliveries in an intake maildir; known lists: $(grep -v '^#' demo/lists | tr '\n' ' ')"

# 1. Streaming: one process per stage, however many messages.
in=$out/stream/intake q=$out/stream/queue log=$out/stream/log
intake "$in"
queue "$q"
echo
echo "1. streaming pipeline:"
echo "   mdclaim $in | mdroute -l demo/lists | mdsweep -q $q | mdfail"
# Each stage's exit status goes to fd 3 (set -e must not stop a subshell
# at a status of 100).
{
	(s=0; bin/mdclaim "$in" || s=$?; echo "mdclaim $s" >&3) |
		(s=0; bin/mdroute -l demo/lists || s=$?; echo "mdroute $s" >&3) |
		(s=0; bin/mdsweep -q "$q" || s=$?; echo "mdsweep $s" >&3) |
		(s=0; bin/mdfail >/dev/null || s=$?; echo "mdfail $s" >&3)
} 3>"$out/stream/status" 2>"$log"
printf '   exit statuses:'
for t in mdclaim mdroute mdsweep mdfail; do
	printf ' %s' "$(grep "^$t " "$out/stream/status")"
done
echo '  (100: some input could not be routed)'
report "$in" "$q" "$log"

# 2. The shell loop: one message at a time. Without -w, mdclaim exits 1
# once new/ is empty, and the loop ends.
in2=$out/loop/intake q2=$out/loop/queue log2=$out/loop/log
intake "$in2"
queue "$q2"
echo
echo "2. shell loop:"
echo "   while f=\$(mdclaim -n 1 $in2); do"
echo "       mdroute -l demo/lists \"\$f\" | mdsweep -q $q2 | mdfail"
echo "   done"
while f=$(bin/mdclaim -n 1 "$in2"); do
	bin/mdroute -l demo/lists "$f" | bin/mdsweep -q "$q2" | bin/mdfail >/dev/null
done 2>"$log2"
report "$in2" "$q2" "$log2"

echo
if placed "$q" >"$out/stream/placed" && placed "$q2" >"$out/loop/placed" &&
	cmp -s "$out/stream/placed" "$out/loop/placed"; then
	echo "Both put every message in the same place. Logs and trees: $out/"
else
	echo "demo: the two compositions disagree:" >&2
	diff "$out/stream/placed" "$out/loop/placed" >&2 || :
	exit 1
fi
