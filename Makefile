# charrnn — `make` builds ./charrnn; `make test` runs the whole suite (./test.sh).
CC      ?= cc
CFLAGS  ?= -O3
# Always on, whatever CFLAGS says. -fno-trapping-math lets GCC vectorise the NaN-preserving clamps in vec_exp,
# -fno-math-errno lets it vectorise sqrtf; neither changes a result (unlike -ffast-math, which this project
# never uses: it breaks NaN checks and reproducibility). -ffp-contract=off: no compiler-chosen fused
# multiply-adds: FMA only where the code asks for it (the GEMM kernels), not wherever a compiler decides.
STDFLAGS = -std=c11 -Wall -Wextra -pedantic -fno-trapping-math -fno-math-errno -ffp-contract=off
LDLIBS  += -lm -lpthread
PREFIX  ?= /usr/local

# Where binaries go: `make BUILD=build-san CFLAGS=...` keeps a second build (test.sh's sanitizer run) apart.
BUILD  ?= .

LIB  = rnn_text.c rnn.c rnn_train.c rnn_gen.c rnn_ckpt.c rnn_util.c rnn_mat.c
HDRS = rnn.h rnn_impl.h rnn_net.h rnn_util.h rnn_mat.h
# The command line: main.c dispatches; cli.c is the option parser, plot.c and score.c the plot and score subcommands.
CLI  = main.c cli.c plot.c score.c
CLI_HDRS = cli.h plot.h score.h

$(BUILD)/charrnn: $(CLI) $(CLI_HDRS) $(LIB) $(HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(STDFLAGS) $(CFLAGS) -o $@ $(CLI) $(LIB) $(LDFLAGS) $(LDLIBS)

# The unit-test program (gradient checks, round trips, determinism); test.sh builds and runs it. One file per
# library area (tests/test_<area>.c), the registry and helpers in tests/test_main.c.
TESTS = tests/test_main.c tests/test_mat.c tests/test_text.c tests/test_model.c tests/test_train.c tests/test_gen.c \
        tests/test_ckpt.c
$(BUILD)/tests/test_rnn: $(TESTS) tests/test.h $(LIB) $(HDRS)
	@mkdir -p $(BUILD)/tests
	$(CC) $(STDFLAGS) $(CFLAGS) -I. -o $@ $(TESTS) $(LIB) $(LDFLAGS) $(LDLIBS)

all: $(BUILD)/charrnn $(BUILD)/tests/test_rnn

test:
	./test.sh

# Speed and memory figures (prints a table; no pass/fail).
bench: charrnn
	./bench.sh

# Opt-in: optimised for this machine's CPU (not portable to older CPUs).
native:
	$(MAKE) clean && $(MAKE) CFLAGS="-O3 -march=native"

# Opt-in: debug build, no optimisation.
debug:
	$(MAKE) clean && $(MAKE) CFLAGS="-O0 -g"

# Opt-in: AddressSanitizer + UndefinedBehaviorSanitizer build in build-san/ (test.sh runs the suite on it).
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize:
	$(MAKE) BUILD=build-san CFLAGS="$(SANFLAGS)" all

install: charrnn
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 charrnn $(DESTDIR)$(PREFIX)/bin/charrnn

clean:
	rm -rf charrnn tests/test_rnn build-san

.PHONY: all test bench native debug sanitize install clean
