# hoody-tunnel: one Makefile for the daemon, the client, the tests and the tools.
#
#   make              build hoody-tunnel, htc and every unit test
#   make run          start the daemon with a newcomer's default
#   make test         format check and the manual pages' lint, then the
#                     layering check, unit + integration tests, plain and
#                     ASan+UBSan builds
#   make check        the layering check, unit + integration tests, for one
#                     build (BUILD=..., SANITIZE=...)
#   make manlint      the manual pages' lint alone (test/manlint.sh)
#   make layering     the layering check alone (test/layering.sh)
#   make format       format every C file as .clang-format says
#   make fuzz         build the libFuzzer targets (clang)
#   make fuzz-smoke   run each fuzz target for FUZZ_SECONDS
#   make bench        build and run the micro-benchmarks
#   make install      programs, manual pages, systemd units (see "install")
#   make uninstall
#   make package-check  build the Debian packages and check them (lintian)
#   make crypto-check our AES-CTR and GHASH against BearSSL's, 100,000 random
#                     cases per routine and path (CRYPTO_CHECK_CASES=N;
#                     CRYPTO_CHECK_SEED=0x... repeats a run)
#   make clean
#
# V=1 shows the commands. SANITIZE=address,undefined builds with sanitizers.
# BUILD=dir picks the output directory (default: build, or build-san).

UNAME_S := $(shell uname -s)
CC      ?= cc
V       ?= 0
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD   ?= build
else
BUILD   ?= build-san
endif

Q := @
ifeq ($(V),1)
Q :=
endif

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wmissing-declarations -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 \
	-Wundef -Wvla -Wsign-compare -Werror
# Codecs are pure byte arithmetic: every narrowing must be spelled out.
CONV_WARN := -Wconversion

OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -MMD -MP
# What #include "..." finds besides the including file's own directory.
# The programs' sources see include/ only: a private header sits beside
# the .c files that share it, and a core or htc file has no path to a
# daemon header. Tests, tools and benches also reach into src/.
SRC_INC  := -Iinclude
TEST_INC := -Iinclude -Isrc
CFLAGS   += $(OPT) $(WARN) -fno-strict-aliasing
LDLIBS   += -lbearssl -lcares
# libinih reads htc's config file: htc and the unit tests that link libhtc.a only.
INIH_CFLAGS := $(shell pkg-config --cflags inih 2>/dev/null)
INIH_LIBS   := $(or $(shell pkg-config --libs inih 2>/dev/null),-linih)

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(UNAME_S),Linux)
BACKEND_EXCLUDE := src/reactor_kqueue.c
else
BACKEND_EXCLUDE := src/reactor_epoll.c
endif

# Three libraries, by rule (test/layering.sh checks what may use what):
#   libcore.a    the shared core: for every public header include/X.h, the
#                sources src/X.c and src/X_*.c (tls_pem.c, http1_chunked.c,
#                reactor_epoll.c ...), minus the backend that does not fit
#                this system
#   libdaemon.a  every other src/*.c but the daemon's entry point main.c
#   libhtc.a     src/htc/*.c but htc's main.c
CORE_NAMES  := $(basename $(notdir $(wildcard include/*.h)))
CORE_SRCS   := $(filter-out $(BACKEND_EXCLUDE),$(sort $(wildcard $(foreach m,$(CORE_NAMES),src/$(m).c src/$(m)_*.c))))
DAEMON_SRCS := $(filter-out src/main.c $(BACKEND_EXCLUDE) $(CORE_SRCS),$(wildcard src/*.c))
HTC_SRCS    := $(filter-out src/htc/main.c,$(wildcard src/htc/*.c))
# The daemon's headers: those in src/ that are not a core module's private ones.
CORE_HDRS   := $(wildcard $(foreach m,$(CORE_NAMES),src/$(m).h src/$(m)_*.h))
DAEMON_HDRS := $(filter-out $(CORE_HDRS),$(wildcard src/*.h))
CODEC_SRCS := src/ws.c src/ws_handshake.c src/frame.c src/http1.c src/json.c src/json_w.c src/http1_chunked.c src/http1_fields.c src/flow.c src/buf.c src/expose_http.c src/htc/local_codec.c src/htc/socks.c

CORE_OBJS   := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)
HTC_OBJS    := $(HTC_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/inspect_page_data.o
# The inspector's page: src/htc/inspect/ as a C array (inspect_page.h).
INSPECT_ASSETS := $(sort $(wildcard src/htc/inspect/*.html src/htc/inspect/*.js src/htc/inspect/*.css))
CORELIB     := $(BUILD)/libcore.a
DAEMONLIB   := $(BUILD)/libdaemon.a
HTCLIB      := $(BUILD)/libhtc.a
LIBS        := $(CORELIB) $(DAEMONLIB) $(HTCLIB)

UNIT_SRCS  := $(wildcard test/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/test/%)
TOOL_SRCS  := $(wildcard test/tools/*.c)
TOOL_BINS  := $(TOOL_SRCS:test/tools/%.c=$(BUILD)/tools/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

DAEMON := $(BUILD)/hoody-tunnel
HTC    := $(BUILD)/htc
PROGS  := $(if $(wildcard src/main.c),$(DAEMON)) $(if $(wildcard src/htc/main.c),$(HTC))

DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: FORCE format fuzz-deps test-deps all deps run test check layering manlint unit integration fuzz fuzz-smoke bench crypto-check clean install
.DEFAULT_GOAL := all
# Objects are not intermediate files: keep them between runs.
.SECONDARY:

all: $(LIBS) $(PROGS) $(UNIT_BINS) $(TOOL_BINS)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): third_party/deps.sh
	$(Q)sh third_party/deps.sh build
	$(Q)mkdir -p $(@D) && touch $@

# The commit hoody_tunnel_build_info reports ("unknown" when this tree is
# not a git checkout of its own). Only metrics.c sees it; a stamp holding
# the last value makes metrics.o rebuild when it changes and only then.
HT_REVISION := $(or $(shell [ -e .git ] && git rev-parse --short HEAD 2>/dev/null),unknown)
REVISION_STAMP := $(BUILD)/.revision
$(REVISION_STAMP): FORCE
	@mkdir -p $(@D)
	$(Q)[ "$$(cat $@ 2>/dev/null)" = "$(HT_REVISION)" ] || echo "$(HT_REVISION)" >$@
$(BUILD)/obj/src/metrics.o: $(REVISION_STAMP)
$(BUILD)/obj/src/metrics.o: CPPFLAGS += -DHT_REVISION='"$(HT_REVISION)"'
FORCE:

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(if $(filter src/%,$<),$(SRC_INC),$(TEST_INC)) $(CFLAGS) \
		$(if $(filter $(CODEC_SRCS),$<),$(CONV_WARN)) $(if $(filter src/htc/%,$<),$(INIH_CFLAGS)) -c -o $@ $<

$(BUILD)/gen/inspect_page_data.c: src/htc/inspect/embed.sh $(INSPECT_ASSETS)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  GEN     $@")
	$(Q)sh src/htc/inspect/embed.sh $(INSPECT_ASSETS) >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/inspect_page_data.o: $(BUILD)/gen/inspect_page_data.c
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) -Isrc/htc $(CFLAGS) -c -o $@ $<

$(CORELIB): $(CORE_OBJS)
$(DAEMONLIB): $(DAEMON_OBJS)
$(HTCLIB): $(HTC_OBJS)
$(LIBS):
	@$(if $(filter 0,$(V)),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(DAEMON): $(BUILD)/obj/src/main.o $(DAEMONLIB) $(CORELIB)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(HTC): $(BUILD)/obj/src/htc/main.o $(HTCLIB) $(CORELIB)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(INIH_LIBS)

# A unit test links the core, and libhtc.a when it includes "htc/...", or
# libdaemon.a when it includes one of the daemon's headers.
HTC_UNIT_BINS    := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(shell grep -l '"htc/' $(UNIT_SRCS) /dev/null 2>/dev/null))
# Unit tests that include fakedaemon.h (a daemon in one process) also link fakedaemon.o.
FAKEDAEMON_UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(shell grep -l '"fakedaemon.h"' $(UNIT_SRCS) /dev/null 2>/dev/null))
DAEMON_UNIT_BINS := $(filter-out $(HTC_UNIT_BINS) $(FAKEDAEMON_UNIT_BINS),$(patsubst test/unit/%.c,$(BUILD)/test/%,$(shell \
	grep -lF $(foreach h,$(notdir $(DAEMON_HDRS)),-e '"$(h)"') $(UNIT_SRCS) /dev/null 2>/dev/null)))

define LINK_TEST
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS) -lcmocka
endef

$(HTC_UNIT_BINS): TEST_LIBS := $(INIH_LIBS)
$(HTC_UNIT_BINS): $(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(HTCLIB) $(CORELIB)
	$(LINK_TEST)
$(DAEMON_UNIT_BINS): $(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(DAEMONLIB) $(CORELIB)
	$(LINK_TEST)
$(FAKEDAEMON_UNIT_BINS): $(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(BUILD)/obj/test/unit/fakedaemon.o $(DAEMONLIB) $(CORELIB)
	$(LINK_TEST)
# Unit tests that include muxpair.h (two muxes over socketpairs) also link muxpair.o.
MUXPAIR_UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(shell grep -l '"muxpair.h"' $(UNIT_SRCS) /dev/null 2>/dev/null))
$(MUXPAIR_UNIT_BINS): $(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(BUILD)/obj/test/unit/muxpair.o $(CORELIB)
	$(LINK_TEST)
$(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(CORELIB)
	$(LINK_TEST)
# Unit tests that include fakerandom.h get getrandom(2) through it (it can fail on demand).
RANDOM_UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(shell grep -l '"fakerandom.h"' $(UNIT_SRCS) /dev/null 2>/dev/null))
$(RANDOM_UNIT_BINS): LDFLAGS += -Wl,--wrap=getrandom

$(BUILD)/tools/%: $(BUILD)/obj/test/tools/%.o $(CORELIB)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(CORELIB)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- running ------------------------------------------------------------

RUN_ARGS ?=
run: $(PROGS)
	$(Q)sh dist/dev-run.sh $(DAEMON) $(HTC) $(RUN_ARGS)

unit: $(UNIT_BINS)
	$(Q)sh test/run-unit.sh $(UNIT_BINS)

# The integration tests' tools (python3-websockets, curl, openssl, mandoc), installed when missing.
test-deps:
	$(Q)sh third_party/deps.sh test

integration: $(PROGS) $(UNIT_BINS) | test-deps
	$(Q)if [ -f test/integration/run.sh ]; then BUILD=$(BUILD) sh test/integration/run.sh; fi

layering: $(LIBS) $(PROGS)
	$(Q)sh test/layering.sh $(BUILD)

manlint: | test-deps
	$(Q)sh test/manlint.sh

check: all | test-deps
	$(Q)sh test/layering.sh $(BUILD)
	$(Q)sh test/run-unit.sh $(UNIT_BINS)
	$(Q)if [ -f test/integration/run.sh ]; then BUILD=$(BUILD) sh test/integration/run.sh; fi

test: | test-deps
	$(Q)sh test/format.sh
	$(Q)sh test/manlint.sh
	$(Q)$(MAKE) --no-print-directory check BUILD=build SANITIZE=
	$(Q)$(MAKE) --no-print-directory check BUILD=build-san SANITIZE=address,undefined

# Format every C file as .clang-format says (test/format.sh checks it).
format:
	$(Q)clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'test/*.c' 'test/*.h' 'bench/*.c' 'bench/*.h')

# ---- fuzzing (clang's libFuzzer) ----------------------------------------

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS    := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:test/fuzz/%.c=$(FUZZ_BUILD)/%)
# The core, and htc's pure codecs (a fuzz target may reach them as "htc/...").
FUZZ_LIB_SRCS := $(CORE_SRCS) $(filter src/htc/%,$(CODEC_SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE $(if $(filter src/%,$<),$(SRC_INC),$(TEST_INC)) -MMD -MP -g -O1 \
		-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -c -o $@ $<

$(FUZZ_BUILD)/libfuzzcore.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%: test/fuzz/%.c $(FUZZ_BUILD)/libfuzzcore.a
	@$(if $(filter 0,$(V)),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(FUZZ_FLAGS) -o $@ $^ -lbearssl

fuzz: $(FUZZ_BINS)
$(FUZZ_BINS): | fuzz-deps
fuzz-deps:
	$(Q)sh third_party/deps.sh fuzz

fuzz-smoke: $(FUZZ_BINS)
	$(Q)sh test/fuzz/smoke.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# ---- benchmarks ---------------------------------------------------------

bench: $(BENCH_BINS)
	$(Q)for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# ---- the long differential test of the TLS record crypto ----------------

# test_tls_diff with CRYPTO_CHECK_CASES cases per routine and path; it
# prints its seed (fresh each run unless CRYPTO_CHECK_SEED is set) and counts.
CRYPTO_CHECK_CASES ?= 100000
crypto-check: $(BUILD)/test/test_tls_diff
	$(Q)CRYPTO_CHECK_CASES=$(CRYPTO_CHECK_CASES) $(BUILD)/test/test_tls_diff

# ---- install ------------------------------------------------------------
#
# make install [PREFIX=/usr/local] [DESTDIR=] puts
#   hoody-tunnel                      in $(sbindir)
#   htc                               in $(bindir)
#   hoody-tunnel.8, htc.1             in $(mandir)/man8, man1
#   hoody-tunnel.service, .socket     in $(systemdunitdir), the paths in the
#                                     service filled in
#   hoody-tunnel.env                  as $(sysconfdir)/default/hoody-tunnel,
#                                     unless that file exists
#   privileged-ports.conf (a drop-in)
#   hoody-tunnel-vhost.socket         in $(docdir), examples
# sysconfdir is /etc whatever PREFIX is: the unit reads its environment
# from /etc/default like every other service (sysconfdir=... changes both).
# The unit directory follows PREFIX: systemd also reads
# /usr/local/lib/systemd/system. make uninstall removes what install put,
# except an environment file that was changed since (it says so).

PREFIX         ?= /usr/local
bindir         ?= $(PREFIX)/bin
sbindir        ?= $(PREFIX)/sbin
mandir         ?= $(PREFIX)/share/man
docdir         ?= $(PREFIX)/share/doc/hoody-tunnel
sysconfdir     ?= /etc
systemdunitdir ?= $(PREFIX)/lib/systemd/system

ENV_FILE := $(DESTDIR)$(sysconfdir)/default/hoody-tunnel
DOC_FILES := dist/privileged-ports.conf dist/hoody-tunnel-vhost.socket

.PHONY: programs uninstall package-check
# The two programs alone (what a package build needs).
programs: $(PROGS)

install: $(DAEMON) $(HTC)
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(mandir)/man8 $(DESTDIR)$(systemdunitdir) $(DESTDIR)$(docdir) \
		$(DESTDIR)$(sysconfdir)/default
	install -m 755 $(DAEMON) $(DESTDIR)$(sbindir)/hoody-tunnel
	install -m 755 $(HTC) $(DESTDIR)$(bindir)/htc
	install -m 644 man/hoody-tunnel.8 $(DESTDIR)$(mandir)/man8/hoody-tunnel.8
	install -m 644 man/htc.1 $(DESTDIR)$(mandir)/man1/htc.1
	sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
		dist/hoody-tunnel.service.in >$(DESTDIR)$(systemdunitdir)/hoody-tunnel.service
	chmod 644 $(DESTDIR)$(systemdunitdir)/hoody-tunnel.service
	install -m 644 dist/hoody-tunnel.socket $(DESTDIR)$(systemdunitdir)/hoody-tunnel.socket
	install -m 644 $(DOC_FILES) $(DESTDIR)$(docdir)/
	@if [ -e $(ENV_FILE) ]; then \
		echo "kept $(ENV_FILE) (it exists; the new example is dist/hoody-tunnel.env)"; \
	else \
		echo "install -m 644 dist/hoody-tunnel.env $(ENV_FILE)"; \
		install -m 644 dist/hoody-tunnel.env $(ENV_FILE); \
	fi
	@$(if $(DESTDIR),,echo "next: systemctl daemon-reload && systemctl enable --now hoody-tunnel.socket")

uninstall:
	rm -f $(DESTDIR)$(sbindir)/hoody-tunnel $(DESTDIR)$(bindir)/htc \
		$(DESTDIR)$(mandir)/man8/hoody-tunnel.8 $(DESTDIR)$(mandir)/man1/htc.1 \
		$(DESTDIR)$(systemdunitdir)/hoody-tunnel.service $(DESTDIR)$(systemdunitdir)/hoody-tunnel.socket \
		$(addprefix $(DESTDIR)$(docdir)/,$(notdir $(DOC_FILES)))
	@if [ -d $(DESTDIR)$(docdir) ]; then \
		echo "rmdir $(DESTDIR)$(docdir)"; \
		rmdir $(DESTDIR)$(docdir) 2>/dev/null || echo "kept $(DESTDIR)$(docdir): not empty"; \
	fi
	@if [ ! -e $(ENV_FILE) ]; then :; \
	elif cmp -s dist/hoody-tunnel.env $(ENV_FILE); then \
		echo "rm -f $(ENV_FILE)"; rm -f $(ENV_FILE); \
	else \
		echo "kept $(ENV_FILE): changed since it was installed"; \
	fi
	@$(if $(DESTDIR),,echo "if they were enabled: systemctl disable --now hoody-tunnel.socket hoody-tunnel.service")

# The Debian packages (debian/), built from a copy of the tree and checked
# with lintian: test/integration/test_package.sh, which make test also runs
# when the tools are installed.
package-check:
	$(Q)sh third_party/deps.sh pkg
	$(Q)sh test/integration/test_package.sh

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
