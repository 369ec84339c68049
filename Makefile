# charrnn — `make` builds ./charrnn; `make test` runs the whole suite (./test.sh).
CC      ?= cc
CFLAGS  ?= -O3
# -fno-trapping-math lets GCC vectorise the NaN-preserving clamps in vec_exp; it changes no result (unlike
# -ffast-math, which this project never uses: it breaks NaN checks and reproducibility).
CFLAGS  += -std=c11 -Wall -Wextra -pedantic -fno-trapping-math
LDLIBS  += -lm -lpthread
PREFIX  ?= /usr/local

LIB  = rnn.c rnn_mat.c rnn_ckpt.c
HDRS = rnn.h rnn_impl.h rnn_mat.h

charrnn: main.c plot.c $(LIB) $(HDRS)
	$(CC) $(CFLAGS) -o $@ main.c plot.c $(LIB) $(LDFLAGS) $(LDLIBS)

# The unit-test program (gradient checks, round trips, determinism); test.sh builds and runs it.
tests/test_rnn: tests/test_rnn.c $(LIB) $(HDRS)
	$(CC) $(CFLAGS) -I. -o $@ tests/test_rnn.c $(LIB) $(LDFLAGS) $(LDLIBS)

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

# Opt-in: AddressSanitizer + UndefinedBehaviorSanitizer build (test.sh does this in a separate directory).
sanitize:
	$(MAKE) clean && $(MAKE) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

install: charrnn
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 charrnn $(DESTDIR)$(PREFIX)/bin/charrnn

clean:
	rm -f charrnn tests/test_rnn

.PHONY: test bench native debug sanitize install clean
