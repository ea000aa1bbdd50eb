#!/bin/sh
# test/layering.sh [-v] [BUILD]: check that no module reaches up or around.
#
# Modules. A module is named by a header that has a source of the same name:
# include/X.h or src/X.h with src/X.c (core and daemon), src/htc/X.h with
# src/htc/X.c (htc, named htc/X here). Every other file belongs to the
# module whose name is its longest prefix ending before a '_': http1_chunked.c
# and http1_int.h to http1, session_hello.c to session, reactor_epoll.c and
# reactor_backend.h to reactor (so the reactor and its backends are one
# module), htc/client_join.c to htc/client. A file with no such prefix is a
# module of its own (main.c, htc/cmd_tunnel.c, htc/htc.h).
#
# Libraries, by the Makefile's rule: a file of src/ is core when its name is
# X or starts with X_ for a public header include/X.h (tls_pem.c, tls_int.h);
# the rest of src/ is the daemon, src/htc/ is htc.
#
# Edges. A -> B when an object of A has an undefined symbol that an object
# of B defines (nm over $BUILD/obj), or when a file of A has #include "B.h"
# (resolved as the compiler does for src/: the file's own directory, then
# include/).
#
# Fails, naming the edge and what made it, on:
#   - a cycle of nm edges between modules;
#   - an edge against the layer table below (STYLE.md section 10): a module
#     may use modules of its own row and of earlier rows, of its own library
#     or of the core. So the core never reaches the daemon or htc, the two
#     programs never reach each other, a codec never reaches the reactor or
#     a socket, and inside the daemon the binding registry stays below the
#     sessions, the sessions below the connections they carry;
#   - a codec (row pure-logic) that calls a socket or file I/O function;
#   - a module with no row, a quoted #include that does not resolve.
# -v prints the module graph: each module, its row, the modules its objects
# use, and those it only includes.
set -eu
cd "$(dirname "$0")/.."

verbose=0
if [ "${1:-}" = "-v" ]; then
	verbose=1
	shift
fi
BUILD=${1:-build}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The layers, lowest first: library, rank, row, modules. A module missing
# here takes the row of its longest '_' prefix that is (tls_pem: tls,
# expose_http: expose); "htc/*" stands for every htc module. Names with no
# file yet (sig, vhost) are where those modules go.
cat >"$tmp/layers" <<'EOF'
core   1  libc-only     util clock envcheck
core   2  base          log buf slab ring
core   3  pure-logic    ws ws_handshake frame http1 json flow
core   4  reactor       reactor
core   5  io            net conn tls
core   6  tunnel-core   stream mux tunnel pump
daemon 7  daemon-base   config sig fdbudget metrics auth forwarded forward_policy resolve daemon sdnotify listenfds tokenstore
daemon 8  bindings      bind
daemon 9  sessions      session
daemon 10 streams       expose pull forward vhost
daemon 11 control-plane ctl api service
daemon 12 entry         main
htc    13 htc           htc/*
EOF

# What a codec must not call: it takes bytes and returns results.
io_calls="read write readv writev recv recvfrom recvmsg send sendto sendmsg
socket connect accept accept4 bind listen shutdown close open openat poll
select epoll_create epoll_create1 epoll_ctl epoll_wait kqueue kevent"

ls include/*.h src/*.c src/*.h src/htc/*.c src/htc/*.h >"$tmp/files"

# "src/x.c symbol type": one nm over the objects of the sources there are
objs=""
for f in src/*.c src/htc/*.c; do
	o="$BUILD/obj/${f%.c}.o"
	[ -f "$o" ] && objs="$objs $o" # not the backend that does not fit this system
done
if [ -z "$objs" ]; then
	echo "layering: no objects under $BUILD/obj/src: build first (make)" >&2
	exit 1
fi
# shellcheck disable=SC2086 # one word per object
nm -P -g -A $objs | sed "s|^$BUILD/obj/\(.*\)\.o: |\1.c |" >"$tmp/nm"

xargs grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' <"$tmp/files" |
	sed 's/^\([^:]*\):[^"]*"\([^"]*\)".*/\1 \2/' >"$tmp/incs"

echo "$io_calls" | tr ' ' '\n' | sed '/^$/d' >"$tmp/io"

awk -v verbose="$verbose" -v LAYERS="$tmp/layers" -v FILES="$tmp/files" -v NM="$tmp/nm" \
	-v INCS="$tmp/incs" -v IO="$tmp/io" '
function fail(msg) { print "layering: " msg > "/dev/stderr"; bad = 1 }

# Strip the last "_part" of a name: "" when there is none.
function shorter(n) { if (n !~ /_/) return ""; sub(/_[^_]*$/, "", n); return n }

function module_of(p,   c) {
	for (c = fbase[p]; c != ""; c = shorter(c))
		if ((fns[p] c) in ismod)
			return fns[p] c
	return fns[p] fbase[p]
}

function library_of(p,   c) {
	if (fdir[p] == "include")
		return "core"
	if (fdir[p] == "src/htc")
		return "htc"
	for (c = fbase[p]; c != ""; c = shorter(c))
		if (c in corehdr)
			return "core"
	return "daemon"
}

function row_of(m,   c) {
	for (c = m; c != ""; c = shorter(c))
		if (c in lrank)
			return c
	if (m ~ /^htc\// && ("htc/*" in lrank))
		return "htc/*"
	return ""
}

function describe(m) { return m " (" mlib[m] " " lrow[mrow[m]] ")" }

FILENAME == LAYERS {
	for (i = 4; i <= NF; i++) {
		llib[$i] = $1
		lrank[$i] = $2 + 0
		lrow[$i] = $3
	}
	if ($2 + 0 > maxrank)
		maxrank = $2 + 0
	next
}
FILENAME == FILES {
	p = $1
	files[++nfiles] = p
	fdir[p] = p
	sub(/\/[^\/]*$/, "", fdir[p])
	b = p
	sub(/^.*\//, "", b)
	ext = b
	sub(/^.*\./, "", ext)
	sub(/\.[^.]*$/, "", b)
	fbase[p] = b
	fns[p] = fdir[p] == "src/htc" ? "htc/" : ""
	if (ext == "h")
		hdr[fns[p] b] = 1
	else
		csrc[fns[p] b] = 1
	if (fdir[p] == "include")
		corehdr[b] = 1
	exists[p] = 1
	next
}
FILENAME == NM { nml[++nnm] = $0; next }
FILENAME == INCS { incl[++ninc] = $0; next }
FILENAME == IO { iocall[$1] = 1; next }

END {
	for (k in hdr)
		if (k in csrc)
			ismod[k] = 1

	# every file to its module and library
	for (i = 1; i <= nfiles; i++) {
		p = files[i]
		m = module_of(p)
		l = library_of(p)
		fmod[p] = m
		if (!(m in mlib)) {
			mlib[m] = l
			mods[++nmods] = m
		} else if (mlib[m] != l) {
			fail(p " is " l " but module " m " is " mlib[m])
		}
	}
	for (i = 1; i <= nmods; i++) {
		m = mods[i]
		mrow[m] = row_of(m)
		if (mrow[m] == "")
			fail("module " m " has no row: place it in the table of test/layering.sh")
		else if (llib[mrow[m]] != mlib[m])
			fail("module " m " is built into lib" mlib[m] ".a but its row " lrow[mrow[m]] " is " llib[mrow[m]])
	}

	# nm: who defines what (a symbol two modules define, such as what a
	# sanitizer adds to every object, says nothing), who needs what
	for (i = 1; i <= nnm; i++) {
		split(nml[i], f, " ")
		if (f[3] == "U" || f[3] !~ /^[A-Z]$/)
			continue
		if (!(f[2] in def))
			def[f[2]] = fmod[f[1]]
		else if (def[f[2]] != fmod[f[1]])
			dup[f[2]] = 1
	}
	for (k in dup)
		delete def[k]
	for (i = 1; i <= nnm; i++) {
		split(nml[i], f, " ")
		if (f[3] != "U")
			continue
		a = fmod[f[1]]
		if (lrow[mrow[a]] == "pure-logic" && (f[2] in iocall))
			fail("codec " a " calls " f[2] "() (" f[1] "): codecs take bytes and return results")
		if (!(f[2] in def) || def[f[2]] == a)
			continue
		b = def[f[2]]
		if (!((a, b) in nmedge)) {
			nmedge[a, b] = f[1] " needs " f[2] "()"
			nnmedges++
		}
	}

	# includes
	for (i = 1; i <= ninc; i++) {
		split(incl[i], f, " ")
		p = f[1]
		h = f[2]
		if (h ~ /\//)
			r = "src/" h
		else if ((fdir[p] "/" h) in exists)
			r = fdir[p] "/" h
		else
			r = "include/" h
		if (!(r in exists)) {
			fail(p ": #include \"" h "\" does not resolve (a source sees its own directory and include/)")
			continue
		}
		a = fmod[p]
		b = fmod[r]
		if (a != b && !((a, b) in incedge))
			incedge[a, b] = p " includes " h
	}

	# every edge against the rows
	for (k in nmedge)
		why[k] = nmedge[k]
	for (k in incedge) {
		w = (k in why) ? why[k] "; " incedge[k] : incedge[k]
		why[k] = w
	}
	for (k in why) {
		split(k, e, SUBSEP)
		a = e[1]
		b = e[2]
		nedges++
		if (mrow[a] == "" || mrow[b] == "")
			continue
		if (mlib[b] != "core" && mlib[b] != mlib[a])
			fail("forbidden edge " a " -> " b ": " mlib[a] " never uses " mlib[b] " (" why[k] ")")
		else if (lrank[mrow[b]] > lrank[mrow[a]])
			fail("upward edge " describe(a) " -> " describe(b) " (" why[k] ")")
	}

	# cycles of nm edges: closure, then one cycle per strongly connected set
	for (i = 1; i <= nmods; i++)
		for (j = 1; j <= nmods; j++)
			if ((mods[i], mods[j]) in nmedge)
				reach[i, j] = 1
	for (k = 1; k <= nmods; k++)
		for (i = 1; i <= nmods; i++)
			if ((i, k) in reach)
				for (j = 1; j <= nmods; j++)
					if ((k, j) in reach)
						reach[i, j] = 1
	for (i = 1; i <= nmods; i++) {
		if (!((i, i) in reach) || (i in seen))
			continue
		for (j = 1; j <= nmods; j++)
			if ((i, j) in reach && (j, i) in reach)
				seen[j] = 1
		# breadth-first from i back to i inside its set
		delete prev
		q[1] = i
		qh = 1
		qt = 1
		found = 0
		while (qh <= qt && !found) {
			u = q[qh++]
			for (j = 1; j <= nmods; j++) {
				if (!((mods[u], mods[j]) in nmedge) || !((j, i) in reach) || !((i, j) in reach))
					continue
				if (j == i) {
					prev[i] = u
					found = 1
					break
				}
				if (!(j in prev)) {
					prev[j] = u
					q[++qt] = j
				}
			}
		}
		set = ""
		for (j = 1; j <= nmods; j++)
			if ((i, j) in reach && (j, i) in reach)
				set = set " " mods[j]
		path = mods[i]
		detail = ""
		v = i
		do {
			u = prev[v]
			path = mods[u] " -> " path
			detail = "\n    " nmedge[mods[u], mods[v]] detail
			v = u
		} while (v != i)
		fail("cycle among" set ": " path ":" detail)
	}

	if (verbose) {
		for (r = 1; r <= maxrank; r++) {
			for (i = 1; i <= nmods; i++) {
				m = mods[i]
				if (lrank[mrow[m]] != r)
					continue
				line = ""
				for (j = 1; j <= nmods; j++)
					if ((m, mods[j]) in nmedge)
						line = line " " mods[j]
				inc = ""
				for (j = 1; j <= nmods; j++)
					if ((m, mods[j]) in incedge && !((m, mods[j]) in nmedge))
						inc = inc " " mods[j]
				printf "%-7s %-14s %-18s ->%s%s\n", mlib[m], lrow[mrow[m]], m, line, inc == "" ? "" : "  (includes:" inc ")"
			}
		}
	}
	if (bad)
		exit 1
	for (i = 1; i <= nmods; i++)
		nlib[mlib[mods[i]]]++
	printf "layering: %d modules (core %d, daemon %d, htc %d), %d edges (%d from nm): no cycle, nothing upward\n",
		nmods, nlib["core"], nlib["daemon"], nlib["htc"], nedges, nnmedges
}
' "$tmp/layers" "$tmp/files" "$tmp/nm" "$tmp/incs" "$tmp/io"
