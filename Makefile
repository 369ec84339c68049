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

# Fuzz targets, one per reader: tests/fuzz_NAME.c (one LLVMFuzzerTestOneInput) with seeds in tests/fuzz/NAME/.
# Every target links the library and the CLI files but main.c (fuzz_opts.c #includes main.c itself). Built with FUZZ_MAIN (the
# default) it is a plain program replaying files and directories of inputs: `make fuzz-progs`, which test.sh runs
# under the sanitizers. `make fuzz` builds them with clang's libFuzzer in build-fuzz/ and fuzzes each for
# FUZZ_SECONDS, new inputs going to build-fuzz/corpus/NAME, crashes to tests/fuzz/NAME/crash-* (commit them with
# the fix: test.sh replays them). To add a reader: CONTRIBUTING.md, "Add a reader".
FUZZ = ckpt utf8 opts plot
FUZZ_MAIN ?= tests/fuzz_main.c
FUZZ_PROGS = $(FUZZ:%=$(BUILD)/tests/fuzz_%)
$(BUILD)/tests/fuzz_%: tests/fuzz_%.c tests/fuzz.h tests/fuzz_main.c $(LIB) $(HDRS) $(CLI) $(CLI_HDRS)
	@mkdir -p $(BUILD)/tests
	$(CC) $(STDFLAGS) $(CFLAGS) -I. -Itests -o $@ $< $(FUZZ_MAIN) $(LIB) $(filter-out main.c,$(CLI)) $(LDFLAGS) $(LDLIBS)
fuzz-progs: $(FUZZ_PROGS)

FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
fuzz:
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) CFLAGS="$(FUZZ_FLAGS)" FUZZ_MAIN= fuzz-progs
	@for t in $(FUZZ); do mkdir -p build-fuzz/corpus/$$t; \
	  echo "# fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  build-fuzz/tests/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -close_fd_mask=3 -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/$$t/ build-fuzz/corpus/$$t tests/fuzz/$$t || exit 1; done

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
	$(MAKE) BUILD=build-san CFLAGS="$(SANFLAGS)" all fuzz-progs

install: charrnn
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 charrnn $(DESTDIR)$(PREFIX)/bin/charrnn

clean:
	rm -rf charrnn tests/test_rnn $(FUZZ:%=tests/fuzz_%) build-san build-fuzz

.PHONY: all fuzz fuzz-progs test bench native debug sanitize install clean
