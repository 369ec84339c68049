#!/usr/bin/env bash
# test.sh — charrnn's test suite, in sections; `./test.sh --help` lists them, tests/README.md says how the suite is
# organised and how to add a test. Usage:
#   ./test.sh                      every section
#   ./test.sh SECTION...           the named sections (build unit kernels cli sanitize mutations fuzz install)
#   ./test.sh SECTION TEST...      only the named tests of unit, kernels, cli or sanitize
# Exits 0 only if nothing failed (2 on a usage error); the last line is always "N passed, M failed".
# Each section builds what it needs (make all, or the sanitizer build in build-san/). The sections run side by side,
# TEST_JOBS at a time (default: the online CPUs), the long ones first; each one's log is printed whole, in that
# order. TEST_JOBS=1 runs them one after another.
set -u
cd "$(dirname "$0")" || exit 1
ROOT=$PWD
PASS=0
FAIL=0
export LC_ALL=C.UTF-8 2>/dev/null || export LC_ALL=C

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

# ------------------------------------------------------------------------------------------------ sections
ALL_SECTIONS=(build unit kernels cli sanitize mutations fuzz install mpi)
# what each section covers (--help prints this)
declare -A ABOUT=(
    [build]="make all warning-free (gcc), the sanitizer build in build-san/, a clang build warning-free"
    [unit]="the library tests (tests/test_*.c, listed in tests/tests.def) on the default micro-kernel"
    [kernels]="the kernel-sensitive library tests again on the avx2 and generic micro-kernels"
    [cli]="the command line (tests/cli_*.sh): exit codes, exact messages, checkpoints, pipes, signals, docs"
    [sanitize]="unit and cli again on the AddressSanitizer + UndefinedBehaviorSanitizer build (the slowest)"
    [mutations]="each line of tests/mutations.txt breaks the library; its unit test must fail"
    [fuzz]="the fuzz targets replay their seeds and crash inputs under the sanitizers; libFuzzer briefly (clang)"
    [install]="make install / uninstall into a DESTDIR; examples/sample.c built against the installed library"
    [mpi]="make mpi; mpirun -np 1, 2, 3 train what one process trains, resume, faults (skipped without mpicc, mpirun)"
)
# the builds each section needs: plain (make all), san (make sanitize: build-san/), clang (a clang build in $TMP)
declare -A NEEDS=([build]="plain san clang" [unit]=plain [kernels]=plain [cli]=plain [sanitize]=san [mutations]=""
                  [fuzz]=san [install]=plain [mpi]=plain)
# the library tests that depend on the micro-kernel (the kernels section's default list)
KERNEL_TESTS=(gemm gemm-bf16 gemm-rows gemm-blocking bf16-paths gen-batch crc32 gradcheck-lstm gradcheck-gru threads
              torch-parity-rnn torch-parity-lstm torch-parity-gru score)

# The command-line tests, one file per command (tests/cli_NAME.sh, functions cli_NAME_*), and install.sh.
for f in tests/cli_misc.sh tests/cli_docs.sh tests/cli_train.sh tests/cli_sample.sh tests/cli_info.sh tests/cli_plot.sh \
         tests/cli_score.sh tests/cli_fill.sh tests/cli_mpi.sh tests/install.sh; do
    # shellcheck source=/dev/null
    . "$f"
done
# The CLI tests in the order the cli section runs them. Each builds the files it needs (fixture, below), so each
# also runs alone: ./test.sh cli cli_sample_gen. cli_misc_help_coverage comes last: it checks that the tests before
# it exercised every flag --help shows, so named alone it runs the whole list.
CLI_TESTS=(cli_misc_usage cli_misc_docs cli_docs_help cli_train_usage cli_sample_usage cli_info_usage cli_plot_usage
           cli_score_usage cli_fill_usage cli_train_corpus cli_train_small cli_info_report cli_plot_run
           cli_train_progress cli_train_options cli_train_precision cli_sample_run cli_score_run cli_score_lines
           cli_score_validation cli_sample_gen cli_sample_lead_in cli_info_bad_checkpoints cli_score_bad_checkpoints cli_train_resume
           cli_train_signals cli_train_overfit cli_train_sizing cli_train_unigram cli_train_finetune cli_train_guard
           cli_train_savefail cli_train_budget cli_train_wrap cli_train_time cli_train_schedule cli_train_crash cli_train_shards cli_fill_run cli_misc_habits
           cli_info_json_names cli_misc_help_coverage)
# the library tests' names, as tests/test_rnn runs them (tests/tests.def, underscores as hyphens)
mapfile -t UNIT_TESTS < <(sed -n 's/^TEST(\([a-z0-9_]*\))$/\1/p' tests/tests.def | tr _ -)

usage() {
    echo "usage: ./test.sh [SECTION [TEST...]]...   (sections: ${ALL_SECTIONS[*]}; ./test.sh --help says more)"
}
help() {
    echo "usage: ./test.sh [SECTION [TEST...]]..."
    echo "Runs the named sections of charrnn's test suite (all of them by default), side by side, and ends with the"
    echo "line 'N passed, M failed'. Sections:"
    local s
    for s in "${ALL_SECTIONS[@]}"; do printf '  %-10s %s\n' "$s" "${ABOUT[$s]}"; done
    echo "Tests named after unit, kernels or sanitize run alone: library tests by name (tests/test_rnn list);"
    echo "after cli or sanitize, CLI tests by function name (e.g. ./test.sh cli cli_train_unigram)."
    echo "Environment: TEST_JOBS (sections at a time; default: the online CPUs), FUZZ_TEST_SECONDS (libFuzzer"
    echo "time per target, default 3), MUTATIONS (another mutation list than tests/mutations.txt)."
    echo "make check runs the quick sections. More: tests/README.md."
}
has() {   # has WORD LIST...: WORD is one of LIST
    local w=$1
    shift
    local x
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

# The arguments: section names, each optionally followed by test names. WANT[section]=1, ONLY[section]="tests".
declare -A WANT=() ONLY=()
cur=""
for a in "$@"; do
    case $a in
        -h | --help) help; exit 0 ;;
        -*) echo "test.sh: unknown option '$a'" >&2; usage >&2; exit 2 ;;
    esac
    if has "$a" "${ALL_SECTIONS[@]}"; then
        cur=$a
        WANT[$a]=1
    elif { [ "$cur" = unit ] || [ "$cur" = kernels ]; } && has "$a" "${UNIT_TESTS[@]}"; then
        ONLY[$cur]="${ONLY[$cur]-} $a"
    elif [ "$cur" = mpi ] && has "$a" "${MPI_TESTS[@]}"; then
        ONLY[$cur]="${ONLY[$cur]-} $a"
    elif [ "$cur" = cli ] && has "$a" "${CLI_TESTS[@]}"; then
        ONLY[$cur]="${ONLY[$cur]-} $a"
    elif [ "$cur" = sanitize ] && has "$a" "${UNIT_TESTS[@]}" "${CLI_TESTS[@]}"; then
        ONLY[$cur]="${ONLY[$cur]-} $a"
    elif [ -z "$cur" ]; then
        echo "test.sh: unknown section '$a'" >&2; usage >&2; exit 2
    else
        echo "test.sh: '$a' is not a test of the $cur section" >&2; usage >&2; exit 2
    fi
done
if [ $# -eq 0 ]; then for s in "${ALL_SECTIONS[@]}"; do WANT[$s]=1; done; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/charrnn-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
JOBS=${TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}

# ------------------------------------------------------------------------------------------------ build
# The builds the chosen sections need, side by side. A build counts as a test only in the build section; for another
# section a failed or warning build is a failure, and a build that did not finish skips the sections needing it.
declare -A BUILD_NEEDED=() BUILT=()
for s in "${!WANT[@]}"; do for b in ${NEEDS[$s]}; do BUILD_NEEDED[$b]=1; done; done
[ -n "${BUILD_NEEDED[clang]-}" ] && ! command -v clang >/dev/null 2>&1 && unset 'BUILD_NEEDED[clang]'
declare -A BUILD_PID=() BUILD_LABEL=([plain]="build: make all is warning-free" [san]="build: sanitizer build"
                                    [clang]="build: clang build is warning-free")
if [ ${#BUILD_NEEDED[@]} -gt 0 ]; then echo "# building: ${!BUILD_NEEDED[*]}"; fi
start_build() {   # start_build NAME MAKE-ARGS...: make in the background, log in $TMP/build-NAME.log
    local name=$1
    shift
    [ -n "${BUILD_NEEDED[$name]-}" ] || return 0
    make -s -j"$JOBS" "$@" >"$TMP/build-$name.log" 2>&1 &
    BUILD_PID[$name]=$!
}
start_build plain all
start_build san sanitize
start_build clang BUILD="$TMP/clang" CC=clang all
for b in plain san clang; do
    [ -n "${BUILD_NEEDED[$b]-}" ] || continue
    wait "${BUILD_PID[$b]}"
    rc=$?
    if [ $rc -eq 0 ] && ! grep -q "warning" "$TMP/build-$b.log"; then
        BUILT[$b]=1
        [ -n "${WANT[build]-}" ] && ok "${BUILD_LABEL[$b]}"
    else
        cat "$TMP/build-$b.log"
        [ $rc -eq 0 ] && BUILT[$b]=1
        bad "${BUILD_LABEL[$b]}"
    fi
done

# ------------------------------------------------------------------------------------------------ library tests
unit() {   # unit BUILD_DIR LABEL [TEST...]: the named library tests (all by default), one result line each
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
# replace_literal PATTERN REPLACEMENT: stdin to stdout with every occurrence of PATTERN (plain text) replaced
replace_literal() {
    P=$1 R=$2 awk 'BEGIN { p = ENVIRON["P"]; r = ENVIRON["R"] }
        { o = ""; while ((i = index($0, p)) > 0) { o = o substr($0, 1, i - 1) r; $0 = substr($0, i + length(p)) }
          print o $0 }'
}
trim() { local s=$1; s=${s#"${s%%[! ]*}"}; printf '%s' "${s%"${s##*[! ]}"}"; }
# Each line of tests/mutations.txt (or of the file $MUTATIONS) is TEST | FILE | PATTERN | REPLACEMENT: the mutant,
# built in a copy of the tree, must make TEST fail. A line whose PATTERN no longer occurs in FILE, a malformed line,
# an unknown FILE or TEST are failures.
mutations() {
    local list=${MUTATIONS:-tests/mutations.txt} m="$TMP/mutant"
    mkdir -p "$m/tests"
    cp rnn*.h rnn*.c "$m/"   # each mutant below replaces one library file
    cp tests/*.c tests/*.h tests/*.def "$m/tests/" 2>/dev/null
    [ -r "$list" ] || { bad "mutations: cannot read $list"; return; }
    local prev="" line test file pat rep bars n=0
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        n=$((n + 1))
        IFS='|' read -r test file pat rep <<<"$line"
        test=$(trim "$test"); file=$(trim "$file"); pat=$(trim "$pat"); rep=$(trim "$rep")
        bars=${line//[^|]/}
        if [ ${#bars} -ne 3 ] || [ -z "$test" ] || [ -z "$file" ] || [ -z "$pat" ]; then
            bad "mutation line $n is not TEST | FILE | PATTERN | REPLACEMENT: $line"
            continue
        fi
        if [ ! -f "$m/$file" ] || [ "$file" != "${file##*/}" ]; then
            bad "mutation of '$file': not a library file (rnn*.c, rnn*.h)"
            continue
        fi
        [ -n "$prev" ] && cp "$prev" "$m/$prev"   # the previous mutant undone (only that file: make rebuilds it alone)
        prev=$file
        replace_literal "$pat" "$rep" <"$file" >"$m/$file"
        if cmp -s "$file" "$m/$file"; then
            bad "mutation '$pat' no longer occurs in $file (update tests/mutations.txt)"
            continue
        fi
        if ! make -s -C "$m" -f "$ROOT/Makefile" tests/test_rnn CFLAGS=-O2 >"$TMP/mutant.log" 2>&1; then
            bad "mutation '$pat' -> '$rep' in $file did not build: $(grep -m 1 error "$TMP/mutant.log")"
            continue
        fi
        if ! "$m/tests/test_rnn" list | grep -qx -- "$test"; then
            bad "mutation '$pat' in $file: no test named '$test'"
        elif out=$("$m/tests/test_rnn" "$test" data 2>&1); then
            bad "mutation '$pat' -> '$rep' in $file: $test still passes: $out"
        else
            ok "mutation caught by $test: $file: '$pat' -> '$rep' -> ${out#not ok - }"
        fi
    done <"$list"
}

# ------------------------------------------------------------------------------------------------ CLI
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
# until_seen FILE REGEX: waits (up to a minute) until FILE has a line matching REGEX (e.g. a run's opening line).
until_seen() {
    local i
    for ((i = 0; i < 600; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# fixture NAME: makes the files named NAME in the work directory $W (fixture_NAME, defined beside the test that owns
# it in tests/cli_*.sh, runs the commands) once per work directory: a later call finds them made. The last command's
# exit status, stdout and stderr are kept, and `fixture_result NAME` makes them the last cr's (RC, $TMP/out,
# $TMP/err), so the test that owns the fixture asserts on the run that made it and every other test just uses it.
fixture() {
    local d="$W/.fixture"
    [ -e "$d/$1.rc" ] && return 0
    mkdir -p "$d"
    RC=0
    : >"$TMP/out"
    : >"$TMP/err"
    "fixture_$1"
    cp "$TMP/out" "$d/$1.out"
    cp "$TMP/err" "$d/$1.err"
    echo "$RC" >"$d/$1.rc"
}
fixture_result() {   # fixture_result NAME: the run that made fixture NAME as the last cr (after `fixture NAME`)
    RC=$(cat "$W/.fixture/$1.rc")
    cp "$W/.fixture/$1.out" "$TMP/out"
    cp "$W/.fixture/$1.err" "$TMP/err"
}

# cli_run WORKDIR_NAME [TEST...]: the named CLI tests (default: all of CLI_TESTS, in order) in one work directory
# $TMP/cli-WORKDIR_NAME; the variables below are what the tests share (their fixtures' file names).
cli_run() {
    W="$TMP/cli-$1"
    shift
    mkdir -p "$W"
    : >"$TMP/ran.log"
    M="$W/m.ckpt" Z="$W/zh.ckpt" B="$W/b.ckpt"   # fixtures small, zh, bytes
    small=(--hidden 48 --batch 8 --seq 32 --threads 2 -q)
    local tests=("$@") t
    if [ ${#tests[@]} -eq 0 ] || has cli_misc_help_coverage "${tests[@]}"; then tests=("${CLI_TESTS[@]}"); fi
    for t in "${tests[@]}"; do
        echo "# $t"
        "$t"
    done
}

# ------------------------------------------------------------------------------------------------ fuzz targets
# Each reader's fuzz target (tests/fuzz_NAME.c, the list is the Makefile's FUZZ) replays its seeds and every saved
# crash input (tests/fuzz/NAME/, crash-* included) under the sanitizers; with clang's libFuzzer it also fuzzes for
# FUZZ_TEST_SECONDS (default 3) each, new findings going to $TMP.
fuzz() {
    local targets t out
    targets=$(sed -n 's/^FUZZ = //p' Makefile)
    for t in $targets; do
        if out=$(build-san/tests/fuzz_$t tests/fuzz/$t 2>"$TMP/fuzz.err") &&
            [[ $out =~ :\ [1-9][0-9]*\ inputs$ ]]; then
            ok "[asan+ubsan] fuzz_$t replays tests/fuzz/$t ($out)"
        else
            bad "[asan+ubsan] fuzz_$t replays tests/fuzz/$t: $out $(tail -n 5 "$TMP/fuzz.err")"
        fi
    done
    command -v clang >/dev/null 2>&1 || return 0
    echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
        >"$TMP/lf.c"
    clang -fsanitize=fuzzer "$TMP/lf.c" -o "$TMP/lf" >/dev/null 2>&1 || return 0
    local flags="-O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
    if ! make -s BUILD="$TMP/fuzz" CC=clang CFLAGS="$flags" FUZZ_MAIN= fuzz-progs >"$TMP/fuzzbuild.log" 2>&1; then
        bad "libFuzzer build: $(tail -n 5 "$TMP/fuzzbuild.log")"
        return 0
    fi
    local secs=${FUZZ_TEST_SECONDS:-3}
    for t in $targets; do
        mkdir -p "$TMP/corpus-$t"
        if "$TMP/fuzz/tests/fuzz_$t" -max_total_time="$secs" -close_fd_mask=3 -artifact_prefix="$TMP/" \
            "$TMP/corpus-$t" tests/fuzz/$t >"$TMP/fuzz-$t.log" 2>&1; then
            ok "libFuzzer: fuzz_$t for $secs s:" \
                "$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$TMP/fuzz-$t.log" | tail -n 1), no finding"
        else
            bad "libFuzzer: fuzz_$t found something (input in $TMP, kept: copy it to tests/fuzz/$t/):" \
                "$(grep -m 1 ERROR "$TMP/fuzz-$t.log")"
            touch "$KEEP"
        fi
    done
}

# ------------------------------------------------------------------------------------------------ run
# The sections share nothing but the built programs, so they run side by side, TEST_JOBS at a time, each in a
# subshell with its own TMP and log. A section's last line is "# section NAME: P passed, F failed in S s", which the
# totals below add up.
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
# only_of KIND SECTION: the tests named after SECTION that are library tests (KIND unit) or CLI tests (KIND cli)
only_of() {
    local t
    for t in ${ONLY[$2]-}; do
        if [ "$1" = unit ]; then has "$t" "${UNIT_TESTS[@]}"; else has "$t" "${CLI_TESTS[@]}"; fi && echo "$t"
    done
}
job_unit() {
    echo "# library tests (default kernel)"
    # shellcheck disable=SC2046
    unit . "" $(only_of unit unit)
}
job_kernels() {
    local names k
    names=$(only_of unit kernels)
    for k in avx2 generic; do
        echo "# library tests on the $k micro-kernel"
        # shellcheck disable=SC2086
        CHARRNN_KERNEL=$k unit . "[$k]" ${names:-${KERNEL_TESTS[*]}}
    done
}
job_mutations() { echo "# mutation checks: each must be caught"; mutations; }
job_cli() {
    echo "# command line"
    # shellcheck disable=SC2046
    BIN=$ROOT/charrnn LABEL="cli:" cli_run plain $(only_of cli cli)
}
job_mpi() {
    if ! command -v mpicc >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1; then
        echo "mpi: skipped: mpicc/mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)"
        return 0
    fi
    echo "# several processes: ./charrnn-mpi under mpirun against ./charrnn"
    local tests t
    read -r -a tests <<<"${ONLY[mpi]-${MPI_TESTS[*]}}"
    BIN=$ROOT/charrnn MPIBIN=$ROOT/charrnn-mpi LABEL="mpi:" W="$TMP/w"
    mkdir -p "$W"
    : >"$TMP/ran.log"
    has cli_mpi_build "${tests[@]}" || cli_mpi_build >/dev/null
    for t in "${tests[@]}"; do
        echo "# $t"
        "$t"
    done
}
job_install() {
    echo "# make install / uninstall, and a program built against the installed library"
    BIN=$ROOT/charrnn LABEL="install:" W="$TMP/w" M="$TMP/w/m.ckpt"   # (M: fixture small, as in cli_run)
    small=(--hidden 48 --batch 8 --seq 32 --threads 2 -q)
    mkdir -p "$W"
    : >"$TMP/ran.log"
    install_tree
}
job_sanitize_unit() {
    echo "# library tests under AddressSanitizer + UndefinedBehaviorSanitizer"
    san_env
    # shellcheck disable=SC2046
    unit build-san "[asan+ubsan]" $(only_of unit sanitize)
}
job_sanitize_cli() {
    echo "# command line under AddressSanitizer + UndefinedBehaviorSanitizer"
    san_env
    # shellcheck disable=SC2046
    BIN=$ROOT/build-san/charrnn LABEL="[asan+ubsan] cli:" cli_run san $(only_of cli sanitize)
}
job_fuzz() {
    echo "# fuzz targets: seeds and saved crash inputs under the sanitizers; libFuzzer briefly if clang has it"
    san_env
    fuzz
}
# The jobs, in the order they start (the long ones first; measured on 2 cores: sanitize-cli 137 s, sanitize-unit
# 259 s): "JOB SECTION", JOB's function being job_JOB with '-' as '_'. The sanitize section is two jobs; with test
# names it starts only the jobs that have some.
JOB_LIST=("sanitize-cli sanitize" "sanitize-unit sanitize" "mutations mutations" "fuzz fuzz" "cli cli" "unit unit"
          "kernels kernels" "install install" "mpi mpi")
KEEP=$TMP/keep     # a section that wants $TMP kept for inspection (a fuzz finding) creates this
declare -A PID=()
NAMES=()
for entry in "${JOB_LIST[@]}"; do
    read -r job sec <<<"$entry"
    [ -n "${WANT[$sec]-}" ] || continue
    if [ $sec = sanitize ] && [ -n "${ONLY[$sec]-}" ] && [ -z "$(only_of "${job#sanitize-}" sanitize)" ]; then
        continue
    fi
    missing=""
    for b in ${NEEDS[$sec]}; do [ -n "${BUILT[$b]-}" ] || missing="$missing $b"; done
    if [ -n "$missing" ]; then
        bad "section $job skipped: its build failed:$missing"
        continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    section "$job" "job_${job//-/_}" &
    PID[$job]=$!
    NAMES+=("$job")
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
