# hoody-tunnel: one Makefile for the daemon, the client, the tests and the tools.
#
#   make              build hoody-tunnel, htc and every unit test
#   make run          start the daemon with a newcomer's default
#   make test         unit + integration tests, plain and ASan+UBSan builds
#   make check        the same, for one build (BUILD=..., SANITIZE=...)
#   make fuzz         build the libFuzzer targets (clang)
#   make fuzz-smoke   run each fuzz target for FUZZ_SECONDS
#   make bench        build and run the micro-benchmarks
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
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
CFLAGS   += $(OPT) $(WARN) -fno-strict-aliasing
LDLIBS   += -lbearssl

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(UNAME_S),Linux)
BACKEND_EXCLUDE := src/reactor_kqueue.c
else
BACKEND_EXCLUDE := src/reactor_epoll.c
endif

# The core library: every src/*.c except the daemon's entry point and the
# backend that does not fit this system. Both programs and every unit test
# link against it.
LIB_SRCS  ?= $(filter-out src/main.c $(BACKEND_EXCLUDE),$(wildcard src/*.c))
HTC_SRCS  ?= $(filter-out src/htc/main.c,$(wildcard src/htc/*.c))
CODEC_SRCS := src/ws.c src/ws_handshake.c src/frame.c src/http1.c src/json.c src/json_w.c src/http1_chunked.c src/http1_fields.c src/flow.c src/buf.c src/expose_http.c src/htc/local_codec.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
HTC_OBJS := $(HTC_SRCS:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libhoody.a
HTCLIB   := $(BUILD)/libhtc.a

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

.PHONY: fuzz-deps all deps run test check unit integration fuzz fuzz-smoke bench clean install
.DEFAULT_GOAL := all
# Objects are not intermediate files: keep them between runs.
.SECONDARY:

all: $(LIB) $(PROGS) $(UNIT_BINS) $(TOOL_BINS)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): third_party/deps.sh
	$(Q)sh third_party/deps.sh build
	$(Q)mkdir -p $(@D) && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(if $(filter $(CODEC_SRCS),$<),$(CONV_WARN)) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@$(if $(filter 0,$(V)),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(HTCLIB): $(HTC_OBJS)
	@$(if $(filter 0,$(V)),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(DAEMON): $(BUILD)/obj/src/main.o $(LIB)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(HTC): $(BUILD)/obj/src/htc/main.o $(HTCLIB) $(LIB)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests of htc's modules (they include "htc/...") also link libhtc.a.
HTC_UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(shell grep -l '"htc/' $(UNIT_SRCS) /dev/null 2>/dev/null))

$(HTC_UNIT_BINS): $(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(HTCLIB) $(LIB)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/test/test_%: $(BUILD)/obj/test/unit/test_%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tools/%: $(BUILD)/obj/test/tools/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- running ------------------------------------------------------------

RUN_ARGS ?=
run: $(DAEMON)
	$(Q)sh dist/dev-run.sh $(DAEMON) $(RUN_ARGS)

unit: $(UNIT_BINS)
	$(Q)sh test/run-unit.sh $(UNIT_BINS)

integration: $(PROGS) $(UNIT_BINS)
	$(Q)if [ -f test/integration/run.sh ]; then BUILD=$(BUILD) sh test/integration/run.sh; fi

check: all
	$(Q)sh test/run-unit.sh $(UNIT_BINS)
	$(Q)if [ -f test/integration/run.sh ]; then BUILD=$(BUILD) sh test/integration/run.sh; fi

test:
	$(Q)$(MAKE) --no-print-directory check BUILD=build SANITIZE=
	$(Q)$(MAKE) --no-print-directory check BUILD=build-san SANITIZE=address,undefined

# ---- fuzzing (clang's libFuzzer) ----------------------------------------

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SRCS    := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:test/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_SRCS := $(LIB_SRCS)
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(filter 0,$(V)),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP -g -O1 \
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

# ---- install ------------------------------------------------------------

PREFIX ?= /usr/local
install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/htc.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/hoody-tunnel.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
