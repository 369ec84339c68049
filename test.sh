#!/usr/bin/env bash
# test.sh — charrnn's whole test suite. No arguments; exits non-zero if anything fails; the last line is
# "N passed, M failed".
#
#  1. the library tests (tests/test_*.c, one file per library area, one program tests/test_rnn): GEMM, gradient checks of every cell, thread determinism, exact
#     save/load and resume, UTF-8 round trips, learning on real text, the divergence guard;
#  2. the same kernel-sensitive tests on the AVX2 and portable micro-kernels;
#  3. mutation checks: a broken line of each cell's backward pass must make its gradient check fail;
#  4. the command line (tests/cli_*.sh, one file per command (cli_fill.sh: bidirectional models), sourced below): exit codes, exact error messages, checkpoint corruption, pipes, /dev/full, signals,
#     resume, and every flag that --help shows;
#  5. parts 1 and 4 again on an AddressSanitizer + UndefinedBehaviorSanitizer build;
#  6. the fuzz targets (tests/fuzz_*.c) on their seeds and saved crash inputs under the sanitizers, and for a few
#     seconds each with libFuzzer when clang has it.
# After the builds, the parts run as sections side by side, TEST_JOBS at a time (default: the online CPUs), the
# long ones early (SECTIONS below); each section's log is printed whole, in that order. TEST_JOBS=1 runs them one
# after another.
set -u
cd "$(dirname "$0")" || exit 1
ROOT=$PWD
PASS=0
FAIL=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/charrnn-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export LC_ALL=C.UTF-8 2>/dev/null || export LC_ALL=C

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

# ------------------------------------------------------------------------------------------------ build
echo "# building (make, the sanitizer build in build-san/ and a clang build, side by side)"
JOBS=${TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
make -s -j"$JOBS" all >"$TMP/build.log" 2>&1 &
PLAIN_BUILD=$!
make -s -j"$JOBS" sanitize >"$TMP/san.log" 2>&1 &
SAN_BUILD=$!
HAVE_CLANG=0
if command -v clang >/dev/null 2>&1; then
    HAVE_CLANG=1
    make -s -j"$JOBS" BUILD="$TMP/clang" CC=clang all >"$TMP/clang.log" 2>&1 &
    CLANG_BUILD=$!
fi
if ! wait $PLAIN_BUILD || grep -q "warning" "$TMP/build.log"; then
    cat "$TMP/build.log"
    bad "build: make all is warning-free"
    wait
    echo "$PASS passed, $FAIL failed"
    exit 1
fi
ok "build: make all is warning-free"
SAN_OK=1
if ! wait $SAN_BUILD || grep -q "warning" "$TMP/san.log"; then
    cat "$TMP/san.log"
    bad "build: sanitizer build"
    SAN_OK=0
else
    ok "build: sanitizer build"
fi
if [ $HAVE_CLANG = 1 ]; then
    if wait "$CLANG_BUILD" && ! grep -q "warning" "$TMP/clang.log"; then
        ok "build: clang build is warning-free"
    else
        cat "$TMP/clang.log"
        bad "build: clang build is warning-free"
    fi
fi

# ------------------------------------------------------------------------------------------------ library tests
unit() {   # unit BUILD_DIR LABEL [TEST...]
    local dir=$1 label=$2
    shift 2
    local names=("$@")
    [ ${#names[@]} -gt 0 ] || mapfile -t names < <("$dir/tests/test_rnn" list)
    for t in "${names[@]}"; do
        local out
        out=$("$dir/tests/test_rnn" "$t" data 2>&1)
        local rc=$?
        if [ $rc -eq 0 ] && [[ $out == ok* ]]; then ok "$label ${out#ok - }"; else bad "$label $t (exit $rc): $out"; fi
    done
}

# ------------------------------------------------------------------------------------------------ mutations
# Each line is: test | library file | sed expression applied to it. The mutant must make the test FAIL.
mutations() {
    local m="$TMP/mutant"
    mkdir -p "$m/tests"
    cp rnn*.h rnn*.c "$m/"   # each mutant below replaces one library file
    cp tests/*.c tests/*.h "$m/tests/" 2>/dev/null
    local prev=""
    while IFS='|' read -r test file expr; do
        [ -n "$prev" ] && cp "$prev" "$m/$prev"   # the previous mutant is undone (only that file: make rebuilds it alone)
        prev=$file
        sed "$expr" "$file" >"$m/$file"
        if cmp -s "$file" "$m/$file"; then
            bad "mutation '$expr' no longer applies to $file (update test.sh)"
            continue
        fi
        if ! make -s -C "$m" -f "$ROOT/Makefile" tests/test_rnn CFLAGS=-O2 >/dev/null 2>&1; then
            bad "mutation '$expr' did not build"
            continue
        fi
        if out=$("$m/tests/test_rnn" "$test" data 2>&1); then
            bad "mutation '$expr': $test still passes: $out"
        else
            ok "mutation caught by $test: ${expr} -> ${out#not ok - }"
        fi
    done <<'EOF'
gradcheck-rnn|rnn.c|s/gx\[j\] = dhb\[j\] \* (1.0f - hb\[j\] \* hb\[j\]);/gx[j] = dhb[j] * (1.0f - hb[j]);/
gradcheck-lstm|rnn.c|s/dc\[j\] = dcj \* f\[j\];/dc[j] = dcj;/
gradcheck-gru|rnn.c|s/dhp\[j\] = dhb\[j\] \* z\[j\];/dhp[j] = dhb[j];/
gradcheck-gru|rnn.c|s/gh\[2 \* H + j\] = dn \* r\[j\];/gh[2 * H + j] = dn;/
gradcheck-rnn|rnn.c|s/add_colsum(n, n->g.by, w->logits, NULL, TB, V, V);/(void)0;/
gradcheck-dropout|rnn.c|s/s->x\[i\] \*= s->m\[i\];/(void)0;/
gradcheck-batch1|rnn.c|s/rnn__mat_pack(n->pool, &w->whtp\[l\], GH, H, pl\[l\].wh, GH, 1);/rnn__mat_pack(n->pool, \&w->whtp[l], GH, H, pl[l].wh, GH, 0);/
torch-parity-rnn|rnn.c|s/float k = 1.0f \/ sqrtf((float)c->hidden);/float k = 0.5f \/ sqrtf((float)c->hidden);/
torch-parity-lstm|rnn_train.c|s/sqrtf(m2\[i\]) \/ s->bc2s + eps/sqrtf(m2[i]) + eps/
torch-parity-rnn|rnn_train.c|s/update_range(s, i, b < hi ? b : hi, 2.0f);/update_range(s, i, b < hi ? b : hi, 1.0f);/
twin-step|rnn_train.c|s/ss += (double)t->grad\[i\] \* t->grad\[i\];/(void)0;/
torch-parity-gru|rnn.c|s/cell == RNN_CELL_GRU ? 2 : 0; }/cell == RNN_CELL_GRU ? 0 : 0; }/
gradcheck-bidir-lstm|rnn.c|s/memcpy(k->dh + r \* BH, w->topb + t \* BH/memcpy(k->dh + r * BH, w->topb + (T - 1 - t) * BH/
gradcheck-bidir-gru|rnn.c|s/if (t < T) memcpy(k->dh/if (t < T - 1) memcpy(k->dh/
gradcheck-bidir-rnn|rnn.c|s/if (s->ids && s->ids\[r\] < 0) continue;/(void)0;/
gemm-bf16|rnn_mat.c|s/if (g->bf16) round_bf16(pa, /if (0) round_bf16(pa, /
gemm-bf16|rnn_mat.c|s/const float xk = mat_bf16(x\[(size_t)(pc + k) \* incx\]);/const float xk = x[(size_t)(pc + k) * incx];/
gemm-bf16|rnn_mat.c|s/int ke = K - pc < MAT_KC ? K : pc + MAT_KC;/int ke = K;/
bf16-paths|rnn_mat.c|s/const float xk = mat_bf16(x\[(size_t)(pc + k) \* incx\]);/const float xk = x[(size_t)(pc + k) * incx];/
gemm-rows|rnn_mat.c|s/acc\[i\]\[q\] = _mm256_fmadd_ps(x, _mm256_loadu_ps(b\[q\] + k \* NR), acc\[i\]\[q\]);/acc[i][q] = _mm256_add_ps(_mm256_mul_ps(x, _mm256_loadu_ps(b[q] + k * NR)), acc[i][q]);/
gemm-rows|rnn_mat.c|s/(M > 1 || p->gemm_rows)/(M > 1)/
gen-batch|rnn_gen.c|s/if (g->n.pool) rnn__mat_pool_set_gemm_rows(g->n.pool, 1);/(void)0;/
gemm-blocking|rnn_mat.c|s/for (int jc = n0; jc < n1; jc += NC) {/for (int jc = n0; jc < n1; jc += NC + NR) {/
fill-blanks|rnn_gen.c|s/size_t k = d ? nb - 1 - met : met, s = /size_t k = met, s = /
fill-blanks|rnn_gen.c|s/if (i < 2) fill_direction(c->f, i, c->n, c->nb);/if (i < 2) fill_direction(c->f, 0, c->n, c->nb);/
EOF
}

# ------------------------------------------------------------------------------------------------ CLI
# The command-line tests, one file per command: tests/cli_train.sh, cli_sample.sh, cli_info.sh, cli_plot.sh, cli_score.sh,
# and cli_misc.sh (usage, --help, the coverage of every --help flag).
for f in tests/cli_misc.sh tests/cli_train.sh tests/cli_sample.sh tests/cli_info.sh tests/cli_plot.sh tests/cli_score.sh tests/cli_fill.sh tests/install.sh; do
    # shellcheck source=/dev/null
    . "$f"
done
# cr ARGS...: runs the binary under test, recording stdout, stderr and the exit status, and logging the
# arguments so that the --help coverage check below can see which flags were really exercised.
cr() {
    printf '%s\n' "$*" >>"$TMP/ran.log"
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}
# expect NAME RC [FIRST_STDERR_LINE]: checks the last cr's exit status and, if given, stderr's first line.
expect() {
    local name=$1 rc=$2 msg=${3-}
    local got
    got=$(head -n 1 "$TMP/err")
    if [ "$RC" -ne "$rc" ]; then
        bad "$LABEL $name: exit $RC, expected $rc (stderr: $got)"
    elif [ -n "$msg" ] && [ "$got" != "$msg" ]; then
        bad "$LABEL $name: stderr '$got', expected '$msg'"
    else
        ok "$LABEL $name (exit $rc)"
    fi
}
# json_lines FILE: every line of FILE is one JSON object (python3's parser if there is one, else a strict check of
# the flat objects charrnn writes: "key":value members, values strings, numbers, true, false or null).
json_lines() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    assert isinstance(json.loads(line), dict)' "$1" 2>/dev/null
    else
        local v='("([^"\\[:cntrl:]]|\\["\\/bfnrtu])*"|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null)'
        ! grep -vqE "^\{\"[a-z_]+\":$v(,\"[a-z_]+\":$v)*\}$" "$1" && test -s "$1"
    fi
}
check() {   # check NAME COMMAND...: passes if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$LABEL $name"; else bad "$LABEL $name"; fi
}
# until_seen FILE REGEX: waits (up to a minute) until FILE has a line matching REGEX, e.g. a started run's opening line.
until_seen() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

cli() {   # cli WORKDIR_NAME: every command-line test, in an order where each sees the files it needs
    local W="$TMP/cli-$1"
    mkdir -p "$W"
    : >"$TMP/ran.log"
    local M="$W/m.ckpt" Z="$W/zh.ckpt" B="$W/b.ckpt"
    local small=(--hidden 48 --batch 8 --seq 32 --threads 2 -q)
    cli_misc_usage
    cli_misc_docs
    cli_train_usage
    cli_sample_usage
    cli_info_usage
    cli_plot_usage
    cli_score_usage
    cli_fill_usage
    cli_train_corpus
    cli_train_small
    cli_info_report
    cli_plot_run
    cli_train_progress
    cli_train_options
    cli_train_precision
    cli_sample_run
    cli_score_run
    cli_score_lines
    cli_score_validation
    cli_sample_gen
    cli_info_bad_checkpoints
    cli_score_bad_checkpoints
    cli_train_resume
    cli_train_signals
    cli_train_overfit
    cli_train_sizing
    cli_train_unigram
    cli_train_finetune
    cli_train_guard
    cli_train_crash
    cli_fill_run
    [ "$1" = plain ] && install_tree   # installs the default build (./charrnn)
    cli_misc_help_coverage
}

# ------------------------------------------------------------------------------------------------ fuzz targets
# Each reader's fuzz target (tests/fuzz_NAME.c, the list is the Makefile's FUZZ) replays its seeds and every saved
# crash input (tests/fuzz/NAME/, crash-* included) under the sanitizers; with clang's libFuzzer it also fuzzes for
# FUZZ_TEST_SECONDS (default 3) each, new findings going to $TMP.
fuzz() {
    local targets t out
    targets=$(sed -n 's/^FUZZ = //p' Makefile)
    for t in $targets; do
        if out=$(build-san/tests/fuzz_$t tests/fuzz/$t 2>"$TMP/fuzz.err") && [[ $out =~ :\ [1-9][0-9]*\ inputs$ ]]; then
            ok "[asan+ubsan] fuzz_$t replays tests/fuzz/$t ($out)"
        else
            bad "[asan+ubsan] fuzz_$t replays tests/fuzz/$t: $out $(tail -n 5 "$TMP/fuzz.err")"
        fi
    done
    command -v clang >/dev/null 2>&1 || return 0
    echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$TMP/lf.c"
    clang -fsanitize=fuzzer "$TMP/lf.c" -o "$TMP/lf" >/dev/null 2>&1 || return 0
    if ! make -s BUILD="$TMP/fuzz" CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" FUZZ_MAIN= fuzz-progs >"$TMP/fuzzbuild.log" 2>&1; then
        bad "libFuzzer build: $(tail -n 5 "$TMP/fuzzbuild.log")"
        return 0
    fi
    for t in $targets; do
        mkdir -p "$TMP/corpus-$t"
        if "$TMP/fuzz/tests/fuzz_$t" -max_total_time="${FUZZ_TEST_SECONDS:-3}" -close_fd_mask=3 -artifact_prefix="$TMP/" \
            "$TMP/corpus-$t" tests/fuzz/$t >"$TMP/fuzz-$t.log" 2>&1; then
            ok "libFuzzer: fuzz_$t for ${FUZZ_TEST_SECONDS:-3} s: $(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$TMP/fuzz-$t.log" | tail -n 1), no finding"
        else
            bad "libFuzzer: fuzz_$t found something (input in $TMP, kept: copy it to tests/fuzz/$t/): $(grep -m 1 ERROR "$TMP/fuzz-$t.log")"
            touch "$KEEP"
        fi
    done
}

# ------------------------------------------------------------------------------------------------ run
# The sections below share nothing but the built programs, so they run side by side, TEST_JOBS at a time
# (default: the online CPUs), each in a subshell with its own TMP and log.
# A section's last line is "# section NAME: P passed, F failed in S s", which the totals below add up.
section() {   # section NAME COMMAND...: runs one section with its own TMP; output to $TMP/NAME.log
    local name=$1
    shift
    (
        TMP="$TMP/$name"
        mkdir -p "$TMP"
        PASS=0 FAIL=0
        local t0=$SECONDS
        "$@"
        echo "# section $name: $PASS passed, $FAIL failed in $((SECONDS - t0)) s"
    ) >"$TMP/$name.log" 2>&1
}
san_env() { export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1; }
unit_default() { echo "# library tests (default kernel)"; LABEL="" unit . ""; }
unit_kernels() {
    for k in avx2 generic; do
        echo "# library tests on the $k micro-kernel"
        CHARRNN_KERNEL=$k unit . "[$k]" gemm gemm-bf16 gemm-rows gemm-blocking bf16-paths gen-batch gradcheck-lstm gradcheck-gru threads torch-parity-rnn torch-parity-lstm torch-parity-gru score
    done
}
mutation_checks() { echo "# mutation checks: each must be caught"; mutations; }
cli_plain() { echo "# command line"; BIN=$ROOT/charrnn LABEL="cli:" cli plain; }
unit_san() {
    echo "# library tests under AddressSanitizer + UndefinedBehaviorSanitizer"
    san_env
    unit build-san "[asan+ubsan]"
}
cli_san() {
    echo "# command line under AddressSanitizer + UndefinedBehaviorSanitizer"
    san_env
    BIN=$ROOT/build-san/charrnn LABEL="[asan+ubsan] cli:" cli san
}
fuzz_all() {
    echo "# fuzz targets: seeds and saved crash inputs under the sanitizers; libFuzzer briefly if clang has it"
    san_env
    fuzz
}
# Each entry: "NAME COMMAND [ARGS]", in the order they start: the two sanitizer sections first (measured on 2 cores:
# unit_san 259 s, cli_san 137 s), then the rest.
SECTIONS=("cli_plain cli_plain" "mutations mutation_checks" "unit unit_default" "kernels unit_kernels")
[ $SAN_OK = 1 ] && SECTIONS=("cli_san cli_san" "unit_san unit_san" "mutations mutation_checks"
                             "fuzz fuzz_all" "cli_plain cli_plain" "unit unit_default" "kernels unit_kernels")
KEEP=$TMP/keep     # a section that wants $TMP kept for inspection (a fuzz finding) creates this
declare -A PID
NAMES=()
for entry in "${SECTIONS[@]}"; do
    read -r -a words <<<"$entry"
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    section "${words[@]}" &
    PID[${words[0]}]=$!
    NAMES+=("${words[0]}")
done
for name in "${NAMES[@]}"; do
    wait "${PID[$name]}" 2>/dev/null   # (already reaped by wait -n if it ended early: then it has ended)
    cat "$TMP/$name.log"
    line=$(grep '^# section ' "$TMP/$name.log" | tail -n 1)
    if [[ $line =~ :\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        PASS=$((PASS + BASH_REMATCH[1]))
        FAIL=$((FAIL + BASH_REMATCH[2]))
    else
        bad "section $name ended without its count (crashed?)"
    fi
done
[ -e "$KEEP" ] && trap - EXIT && echo "# kept $TMP for the fuzz finding"
echo "$PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
