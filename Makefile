# charrnn — `make` builds ./charrnn and libcharrnn.a; `make test` runs the whole suite (./test.sh); `make man`
# regenerates the committed man page charrnn.1 from the option tables; `make install` / `make uninstall`.
CC      ?= cc
AR      ?= ar
CFLAGS  ?= -O3
# Always on, whatever CFLAGS says. -fno-trapping-math lets GCC vectorise the NaN-preserving clamps in vec_exp,
# -fno-math-errno lets it vectorise sqrtf; neither changes a result (unlike -ffast-math, which this project
# never uses: it breaks NaN checks and reproducibility). -ffp-contract=off: no compiler-chosen fused
# multiply-adds: FMA only where the code asks for it (the GEMM kernels), not wherever a compiler decides.
# -Wshadow: no name hides another; -Wmissing-prototypes: a function without a prototype in a header is static.
STDFLAGS = -std=c11 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes \
           -fno-trapping-math -fno-math-errno -ffp-contract=off
LDLIBS  += -lm -lpthread
PREFIX  ?= /usr/local
BINDIR   = $(PREFIX)/bin
LIBDIR   = $(PREFIX)/lib
INCDIR   = $(PREFIX)/include
MANDIR   = $(PREFIX)/share/man/man1
COMPDIR  = $(PREFIX)/share/bash-completion/completions

# Where binaries go: `make BUILD=build-san CFLAGS=...` keeps a second build (test.sh's sanitizer run) apart.
BUILD  ?= .

LIB  = rnn_text.c rnn.c rnn_train.c rnn_gen.c rnn_ckpt.c rnn_crc.c rnn_mat.c
HDRS = rnn.h rnn_impl.h rnn_net.h rnn_rng.h rnn_mat.h
# The command line: main.c dispatches; cmd_NAME.c is the subcommand NAME (cmd.c and cmd.h what they share); cli.c
# is the option parser, out.c the JSON, terminal and shell-quoting helpers, doc.c the man page and completion writer;
# dist_none.c is dist.h for one process (`make mpi` puts dist_mpi.c in its place).
CLI  = main.c cmd.c cmd_train.c cmd_sample.c cmd_fill.c cmd_info.c cmd_score.c cmd_plot.c cli.c out.c doc.c dist_none.c
CLI_HDRS = cmd.h cli.h plot.h out.h doc.h dist.h

.DEFAULT_GOAL := $(BUILD)/charrnn

# The library as a static archive (installed for other programs; ./charrnn links it too).
LIB_OBJS = $(LIB:%.c=$(BUILD)/obj/%.o)
$(LIB_OBJS): $(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(BUILD)/obj
	$(CC) $(STDFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/libcharrnn.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(BUILD)/charrnn: $(CLI) $(CLI_HDRS) $(BUILD)/libcharrnn.a rnn.h
	@mkdir -p $(BUILD)
	$(CC) $(STDFLAGS) $(CFLAGS) -o $@ $(CLI) $(BUILD)/libcharrnn.a $(LDFLAGS) $(LDLIBS)

# Several machines (docs/scaling.md; never needed otherwise): ./charrnn-mpi, the same program with dist_mpi.c in
# place of dist_none.c, built with mpicc (Debian: openmpi-bin libopenmpi-dev); `mpirun -np N ./charrnn-mpi train`.
MPICC ?= mpicc
mpi: $(BUILD)/charrnn-mpi
$(BUILD)/charrnn-mpi: $(CLI) dist_mpi.c $(CLI_HDRS) $(BUILD)/libcharrnn.a rnn.h
	@mkdir -p $(BUILD)
	$(MPICC) $(STDFLAGS) $(CFLAGS) -o $@ $(filter-out dist_none.c,$(CLI)) dist_mpi.c $(BUILD)/libcharrnn.a \
		$(LDFLAGS) $(LDLIBS)

# The unit-test program (gradient checks, round trips, determinism); test.sh builds and runs it. One file per
# library area (tests/test_<area>.c); tests/tests.def lists the tests, tests/test.h holds the helpers,
# tests/test_main.c the registry.
TESTS = tests/test_main.c tests/test_mat.c tests/test_text.c tests/test_model.c tests/test_train.c tests/test_gen.c \
        tests/test_ckpt.c
# Built from objects, so that a change to one file (test.sh's mutation checks: one mutant each) recompiles that file only.
TEST_OBJS = $(TESTS:tests/%.c=$(BUILD)/obj/tests/%.o)
$(TEST_OBJS): $(BUILD)/obj/tests/%.o: tests/%.c tests/test.h tests/tests.def $(HDRS)
	@mkdir -p $(BUILD)/obj/tests
	$(CC) $(STDFLAGS) $(CFLAGS) -I. -c -o $@ $<
$(BUILD)/tests/test_rnn: $(TEST_OBJS) $(LIB_OBJS)
	@mkdir -p $(BUILD)/tests
	$(CC) $(STDFLAGS) $(CFLAGS) -o $@ $(TEST_OBJS) $(LIB_OBJS) $(LDFLAGS) $(LDLIBS)

# Fuzz targets, one per reader: tests/fuzz_NAME.c (one LLVMFuzzerTestOneInput) with seeds in tests/fuzz/NAME/.
# Every target links the library and the CLI files but main.c (fuzz_opts.c #includes main.c itself). Built with
# FUZZ_MAIN (the default) it is a plain program replaying files and directories of inputs: `make fuzz-progs`, which test.sh runs
# under the sanitizers. `make fuzz` builds them with clang's libFuzzer in build-fuzz/ and fuzzes each for
# FUZZ_SECONDS, new inputs going to build-fuzz/corpus/NAME, crashes to tests/fuzz/NAME/crash-* (commit them with
# the fix: test.sh replays them). To add a reader: CONTRIBUTING.md, "Add a reader".
FUZZ = ckpt utf8 opts plot fill gen
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

# The quick sections of the suite (about a minute and a half on two cores, builds included; tests/README.md).
check:
	./test.sh unit kernels cli mutations install

# The man page is committed (readable without a build) and generated from the option tables: run `make man`
# after changing a command or an option; test.sh fails while charrnn.1 is stale.
man: charrnn
	./charrnn --man >charrnn.1.tmp && mv charrnn.1.tmp charrnn.1

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

# The installed files, exactly (uninstall removes these and nothing else). The completion script and charrnn.pc
# are written at install time: the script by the binary from its option tables, the .pc with PREFIX and the
# binary's version. The header goes to its own directory, $(INCDIR)/charrnn/rnn.h (a bare rnn.h in /usr/include
# could be anyone's); charrnn.pc's Cflags point there, so programs write #include <rnn.h>.
INSTALLED = $(BINDIR)/charrnn $(MANDIR)/charrnn.1 $(COMPDIR)/charrnn $(INCDIR)/charrnn/rnn.h \
            $(LIBDIR)/libcharrnn.a $(LIBDIR)/pkgconfig/charrnn.pc
install: charrnn libcharrnn.a
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(COMPDIR) $(DESTDIR)$(INCDIR)/charrnn \
	    $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 charrnn $(DESTDIR)$(BINDIR)/charrnn
	install -m 644 charrnn.1 $(DESTDIR)$(MANDIR)/charrnn.1
	./charrnn --completion bash >$(DESTDIR)$(COMPDIR)/charrnn
	install -m 644 rnn.h $(DESTDIR)$(INCDIR)/charrnn/rnn.h
	install -m 644 libcharrnn.a $(DESTDIR)$(LIBDIR)/libcharrnn.a
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: charrnn\nDescription: %s\nVersion: %s\nCflags: -I$${includedir}/charrnn\nLibs: -L$${libdir} -lcharrnn -lm -lpthread\n' \
	    '$(PREFIX)' 'character-level RNN text generator (static library)' "$$(./charrnn --version | cut -d' ' -f2)" \
	    >$(DESTDIR)$(LIBDIR)/pkgconfig/charrnn.pc

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(INCDIR)/charrnn 2>/dev/null || true

clean:
	rm -rf charrnn charrnn-mpi tests/test_rnn $(FUZZ:%=tests/fuzz_%) libcharrnn.a obj build-san build-fuzz

.PHONY: all mpi fuzz fuzz-progs test check man bench native debug sanitize install uninstall clean
