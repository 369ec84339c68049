#!/usr/bin/env bash
# test.sh — charrnn's whole test suite. No arguments; exits non-zero if anything fails; the last line is
# "N passed, M failed".
#
#  1. the library tests (tests/test_rnn.c): GEMM, gradient checks of every cell, thread determinism, exact
#     save/load and resume, UTF-8 round trips, learning on real text, the divergence guard;
#  2. the same kernel-sensitive tests on the AVX2 and portable micro-kernels;
#  3. mutation checks: a broken line of each cell's backward pass must make its gradient check fail;
#  4. the command line: exit codes, exact error messages, checkpoint corruption, pipes, /dev/full, signals,
#     resume, and every flag that --help shows;
#  5. parts 1 and 4 again on an AddressSanitizer + UndefinedBehaviorSanitizer build.
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
echo "# building (make, and the sanitizer build in build-san/)"
if ! make -s all >"$TMP/build.log" 2>&1 || grep -q "warning" "$TMP/build.log"; then
    cat "$TMP/build.log"
    bad "build: make all is warning-free"
    echo "$PASS passed, $FAIL failed"
    exit 1
fi
ok "build: make all is warning-free"
SAN_OK=1
if ! make -s sanitize >"$TMP/san.log" 2>&1 || grep -q "warning" "$TMP/san.log"; then
    cat "$TMP/san.log"
    bad "build: sanitizer build"
    SAN_OK=0
else
    ok "build: sanitizer build"
fi
if command -v clang >/dev/null 2>&1; then
    if make -s BUILD="$TMP/clang" CC=clang all >"$TMP/clang.log" 2>&1 && ! grep -q "warning" "$TMP/clang.log"; then
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
# Each line is: test | sed expression applied to rnn.c. The mutant's gradient check must FAIL.
mutations() {
    local m="$TMP/mutant"
    mkdir -p "$m/tests"
    cp rnn*.h rnn*.c "$m/"   # rnn.c is replaced by each mutant below
    cp tests/*.c tests/*.h "$m/tests/" 2>/dev/null
    while IFS='|' read -r test expr; do
        sed "$expr" rnn.c >"$m/rnn.c"
        if cmp -s rnn.c "$m/rnn.c"; then
            bad "mutation '$expr' no longer applies to rnn.c (update test.sh)"
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
gradcheck-rnn|s/gx\[j\] = dhb\[j\] \* (1.0f - hb\[j\] \* hb\[j\]);/gx[j] = dhb[j] * (1.0f - hb[j]);/
gradcheck-lstm|s/dc\[j\] = dcj \* f\[j\];/dc[j] = dcj;/
gradcheck-gru|s/dhp\[j\] = dhb\[j\] \* z\[j\];/dhp[j] = dhb[j];/
gradcheck-gru|s/gh\[2 \* H + j\] = dn \* r\[j\];/gh[2 * H + j] = dn;/
gradcheck-rnn|s/add_colsum(n, n->g.by, w->logits, NULL, TB, V, V);/(void)0;/
gradcheck-dropout|s/s->x\[i\] \*= s->m\[i\];/(void)0;/
gradcheck-batch1|s/mat_pack(n->pool, &w->whtp\[l\], GH, H, n->p.l\[l\].wh, GH, 1);/mat_pack(n->pool, \&w->whtp[l], GH, H, n->p.l[l].wh, GH, 0);/
EOF
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
check() {   # check NAME COMMAND...: passes if the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$LABEL $name"; else bad "$LABEL $name"; fi
}

cli() {   # cli WORKDIR_NAME
    local W="$TMP/cli-$1"
    mkdir -p "$W"
    : >"$TMP/ran.log"
    local M="$W/m.ckpt" Z="$W/zh.ckpt" B="$W/b.ckpt"
    local small=(--hidden 48 --batch 8 --seq 32 --threads 2 -q)

    # --- usage
    cr; expect "no arguments is a usage error" 2
    cr --help; expect "--help" 0
    check "--help goes to stdout" grep -q "^Usage: charrnn COMMAND" "$TMP/out"
    cr --version; expect "--version" 0
    cr frobnicate; expect "unknown command" 2 "charrnn: unknown command 'frobnicate'"
    for sub in train sample info plot; do
        cr $sub --help; expect "$sub --help" 0
        check "$sub --help on stdout, nothing on stderr" test -s "$TMP/out" -a ! -s "$TMP/err"
        cp "$TMP/out" "$W/help-$sub"
        grep -o -- '--[a-z][a-z-]*' "$TMP/out" | sort -u >"$W/flags-$sub"
    done
    cr train; expect "train without a corpus" 2 "charrnn train: expected one CORPUS file"
    cr train --hidden 0 data/fortunes.txt; expect "--hidden 0" 2 "charrnn train: invalid value '0' for --hidden: must be 1..8192"
    cr train --hidden 12x data/fortunes.txt; expect "--hidden 12x" 2 "charrnn train: invalid value '12x' for --hidden: not a whole number"
    cr train --steps 1.5 data/fortunes.txt; expect "--steps 1.5" 2 "charrnn train: invalid value '1.5' for --steps: not a whole number"
    cr train --lr 0 data/fortunes.txt; expect "--lr 0" 2 "charrnn train: invalid value '0' for --lr: must be > 0 and <= 100"
    cr train --lr nan data/fortunes.txt; expect "--lr nan" 2 "charrnn train: invalid value 'nan' for --lr: not a number"
    cr train --dropout 1 data/fortunes.txt; expect "--dropout 1" 2 "charrnn train: invalid value '1' for --dropout: must be 0..0.99"
    cr train --cell lstmx data/fortunes.txt; expect "--cell lstmx" 2 "charrnn train: invalid value 'lstmx' for --cell (choose one of: rnn, lstm, gru)"
    cr train --frob data/fortunes.txt; expect "unknown option" 2 "charrnn train: unknown option '--frob'"
    cr train data/fortunes.txt --batch; expect "missing value" 2 "charrnn train: option '--batch' needs a value (B)"
    cr train --bytes=1 data/fortunes.txt; expect "flag with a value" 2 "charrnn train: option '--bytes' takes no value"
    cr train a b; expect "two corpora" 2 "charrnn train: unexpected argument 'b'"
    cr sample -n 5x; expect "-n 5x" 2 "charrnn sample: invalid value '5x' for -n: not a whole number"
    cr sample -n -3; expect "-n -3" 2 "charrnn sample: invalid value '-3' for -n: must be 0..1000000000000000"
    cr sample --seed 18446744073709551616; expect "--seed beyond 64 bits" 2 "charrnn sample: invalid value '18446744073709551616' for --seed: must be 0..18446744073709551615"
    cr sample --temperature -1; expect "--temperature -1" 2 "charrnn sample: invalid value '-1' for --temperature: must be 0..100"
    cr sample -t ''; expect "-t ''" 2 "charrnn sample: invalid value '' for -t: not a number"
    cr sample --top-p 0; expect "--top-p 0" 2 "charrnn sample: invalid value '0' for --top-p: must be > 0 and <= 1"
    cr sample --top-k 1.5; expect "--top-k 1.5" 2 "charrnn sample: invalid value '1.5' for --top-k: not a whole number"
    cr sample extra; expect "sample takes no file" 2 "charrnn sample: unexpected argument 'extra'"
    cr info -m; expect "info -m without value" 2 "charrnn info: option '-m' needs a value (FILE)"
    cr plot; expect "plot without a log" 2 "charrnn plot: expected one LOG file"

    # --- corpus errors
    cr train "$W/nope.txt"; expect "missing corpus" 1 "charrnn: cannot open '$W/nope.txt': No such file or directory"
    cr train data; expect "directory as corpus" 1 "charrnn: cannot read 'data': Is a directory"
    : >"$W/empty.txt"
    cr train "$W/empty.txt"; expect "empty corpus" 1 "charrnn: '$W/empty.txt' is empty"
    head -c 300 data/fortunes.txt >"$W/short.txt"
    cr train "$W/short.txt" -o "$W/short.ckpt"
    expect "corpus shorter than one chunk" 1 "charrnn: $W/short.txt: corpus too short: 269 training symbols, but one chunk of --batch 32 x --seq 64 needs 2049; lower --batch or --seq (or --val)"
    check "no checkpoint is written for a failed run" test ! -e "$W/short.ckpt"
    if [ "$(id -u)" != 0 ]; then
        cp data/tang.txt "$W/unreadable.txt"; chmod 000 "$W/unreadable.txt"
        cr train "$W/unreadable.txt"; expect "unreadable corpus" 1 "charrnn: cannot open '$W/unreadable.txt': Permission denied"
    fi

    # --- training: a small model, with a log, on the shipped corpus
    cr train data/fortunes.txt "${small[@]}" --steps 60 --eval-every 30 --log "$W/log.csv" -o "$M"
    expect "train a small model" 0
    check "quiet training prints nothing" test ! -s "$TMP/err"
    check "checkpoint written" test -s "$M"
    check "best-by-validation checkpoint written" test -s "$W/m.best.ckpt"
    check "no temporary files left" test -z "$(ls "$W" | grep -F .tmp.)"
    cr info -m "$M"; expect "info" 0
    check "info names the model" grep -q "^cell: *rnn" "$TMP/out"
    check "info shows steps and val loss" grep -qE "^steps: *60 .*" "$TMP/out"
    check "info shows the vocabulary" grep -qE "^vocabulary: *106 UTF-8 characters" "$TMP/out"
    check "info shows the parameter count" grep -qE "^parameters: *[0-9]+" "$TMP/out"
    check "info says resumable" grep -q "^resumable: *yes" "$TMP/out"
    check "log has a header and rows" grep -q "^step,seconds,train_loss,val_loss,lr,chars_per_sec" "$W/log.csv"
    check "log has validation rows" grep -qE "^60,[0-9.]+,[0-9.]+,[0-9.]+," "$W/log.csv"
    cr plot "$W/log.csv"; expect "plot" 0
    check "plot writes an SVG with both curves and a legend" bash -c "grep -q '<svg' '$TMP/out' && grep -c '<polyline' '$TMP/out' | grep -qx 2 && grep -q validation '$TMP/out' && tail -n1 '$TMP/out' | grep -q '</svg>'"
    echo "hello" >"$W/notlog.csv"
    cr plot "$W/notlog.csv"; expect "plot of a non-log" 1 "charrnn: '$W/notlog.csv' is not a charrnn training log (its first line is not 'step,seconds,train_loss,val_loss,lr,chars_per_sec')"

    # progress output when not quiet, in a pipe: plain lines, a summary with chars/s
    cr train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 40 --eval-every 20 --preview 30 -o "$W/p.ckpt"
    expect "train with progress" 0
    check "progress has step/total lines" grep -qE "^step [0-9]+/40 " "$TMP/err"
    check "validation lines in nats and bits" grep -qE "^step 20: val [0-9.]+ nats/char \([0-9.]+ bits/char\)" "$TMP/err"
    check "preview sample lines" grep -q "^  | " "$TMP/err"
    check "validation summary line" grep -qE "^validation: [0-9.]+ -> [0-9.]+ nats/char over 2 evaluations" "$TMP/err"
    check "final summary with chars/s" grep -qE "^done: 40 steps, .* [0-9]+ chars/s" "$TMP/err"
    check "nothing on stdout while training" test ! -s "$TMP/out"

    # on a terminal (a pseudo-terminal from script(1)), progress is one line redrawn in place
    if command -v script >/dev/null 2>&1; then
        script -qec "$BIN train data/fortunes.txt --hidden 16 --batch 4 --seq 16 --steps 400 --eval-every 0 --threads 1 -o $W/tty.ckpt" \
            /dev/null >"$W/tty.out" 2>&1 </dev/null
        check "on a terminal, progress redraws one line (CR + erase-line)" grep -q $'\r\x1b\[K' "$W/tty.out"
    fi

    # --epochs and --time budgets; --bytes; stdin; other cells and optimizers
    cr train data/fortunes.txt "${small[@]}" --epochs 0.01 --eval-every 0 -o "$W/e.ckpt"
    expect "--epochs budget" 0
    cr train data/fortunes.txt "${small[@]}" --time 0.5 --eval-every 0 -o "$W/t.ckpt"
    expect "--time budget" 0
    cr train data/fortunes.txt "${small[@]}" --steps 5 --bytes --val 0.05 -o "$B"
    expect "--bytes training" 0
    cr info -m "$B"
    check "--bytes model has byte symbols" grep -q "bytes" "$TMP/out"
    printf '%s\n' "$(head -c 20000 data/fortunes.txt)" >"$W/stdin.txt"
    cr train - "${small[@]}" --steps 3 -o "$W/stdin.ckpt" <"$W/stdin.txt"
    expect "corpus from stdin" 0
    cr train data/fortunes.txt -q --threads 1 --cell lstm --layers 2 --hidden 16 --batch 4 --seq 8 --dropout 0.1 \
        --optim adagrad --lr 0.05 --lr-decay 0.9 --clip 1 --seed 7 --forget-bias 0.5 --steps 5 -o "$W/lstm.ckpt"
    expect "lstm, dropout, adagrad, decay, clip, seed" 0
    cr train data/fortunes.txt -q --cell gru --hidden 16 --batch 4 --seq 8 --optim sgd --lr 0.5 --clip 0 --steps 5 -o "$W/gru.ckpt"
    expect "gru, sgd, no clipping" 0
    cr info -m "$W/lstm.ckpt"
    check "info shows lstm 2 layers, forget bias" bash -c "grep -q '^cell: *lstm' '$TMP/out' && grep -q '^layers: *2' '$TMP/out' && grep -q '^init: *forget-gate bias 0.5' '$TMP/out'"

    # --- sampling
    cr sample -m "$M" -n 300 --seed 5; expect "sample" 0
    cp "$TMP/out" "$W/s1"
    check "nothing on stderr while sampling" test ! -s "$TMP/err"
    check "exactly -n symbols (300 characters)" test "$(wc -m <"$W/s1")" -eq 300
    cr sample -m "$M" -n 300 --seed 5; check "same seed, same bytes" cmp -s "$TMP/out" "$W/s1"
    cr sample -m "$M" -n 300 --seed 5 --threads 3; check "same seed on 3 threads, same bytes" cmp -s "$TMP/out" "$W/s1"
    cr sample --threads 0; expect "--threads 0" 2 "charrnn sample: invalid value '0' for --threads: must be 1..256"
    cr sample -m "$M" -n 300 --seed 6; check "another seed, other bytes" bash -c "! cmp -s '$TMP/out' '$W/s1'"
    cr sample -m "$M" -n 0; expect "-n 0" 0
    check "-n 0 prints nothing" test ! -s "$TMP/out"
    cr sample -m "$M" -n 200 -t 0; cp "$TMP/out" "$W/argmax"
    cr sample -m "$M" -n 200 --temperature 0 --seed 99
    check "temperature 0 is argmax: independent of the seed" cmp -s "$TMP/out" "$W/argmax"
    cr sample -m "$M" -n 100 --top-k 3 --seed 1; expect "--top-k" 0
    cr sample -m "$M" -n 100 --top-p 0.5 --seed 1; expect "--top-p" 0
    cr sample -m "$M" -n 50 --prime "The " --length 50 --seed 2; expect "--prime" 0
    check "the prime is printed first" bash -c "head -c 4 '$TMP/out' | grep -q '^The '"
    cr sample -m "$M" -n 20 --prime "Zeta中" --seed 2
    expect "unknown prime characters warn" 0 "charrnn: warning: 1 symbol of --prime is not in the model's vocabulary and was skipped"
    cr sample --model "$B" -n 100 --seed 3; expect "sample a --bytes model" 0
    check "--bytes model: exactly -n bytes" test "$(wc -c <"$TMP/out")" -eq 100
    cr sample -m "$W/lstm.ckpt" -n 50 --seed 3; expect "sample lstm" 0
    cr sample -m "$W/gru.ckpt" -n 50 --seed 3; expect "sample gru" 0
    # Chinese: vocabulary of thousands, output valid UTF-8
    cr train data/tang.txt --hidden 32 --batch 8 --seq 16 --steps 10 -q -o "$Z"; expect "train on Chinese text" 0
    cr sample -m "$Z" -n 500 --seed 4; expect "sample Chinese" 0
    check "Chinese sample: 500 characters of valid UTF-8" bash -c "iconv -f UTF-8 -t UTF-8 '$TMP/out' >/dev/null && test \$(wc -m <'$TMP/out') -eq 500"
    # pipes and full disks
    local t0=$SECONDS
    printf '%s\n' "sample -m $M -n 100000000 | head -c 100" >>"$TMP/ran.log"
    "$BIN" sample -m "$M" -n 100000000 --seed 1 2>"$W/pipe.err" | head -c 100 >"$W/pipe.out"
    check "sample | head -c 100 stops promptly and quietly" test $((SECONDS - t0)) -lt 20 -a ! -s "$W/pipe.err" -a "$(wc -c <"$W/pipe.out")" -eq 100
    if [ -w /dev/full ]; then
        printf '%s\n' "sample -m $M > /dev/full" >>"$TMP/ran.log"
        "$BIN" sample -m "$M" -n 100 --seed 1 >/dev/full 2>"$TMP/err"; RC=$?
        expect "sample > /dev/full fails loudly" 1 "charrnn: cannot write output: No space left on device"
        "$BIN" info -m "$M" >/dev/full 2>"$TMP/err"; RC=$?
        expect "info > /dev/full fails loudly" 1 "charrnn: cannot write output: No space left on device"
    fi

    # --- bad checkpoints
    cr sample -m "$W/none.ckpt"; expect "missing checkpoint" 1 "charrnn: cannot open '$W/none.ckpt': No such file or directory"
    cr sample -m data/fortunes.txt; expect "foreign file" 1 "charrnn: 'data/fortunes.txt' is not a charrnn checkpoint (bad magic)"
    head -c 1000 "$M" >"$W/trunc.ckpt"
    cr sample -m "$W/trunc.ckpt"
    expect "truncated checkpoint" 1 "charrnn: '$W/trunc.ckpt' is truncated (1000 bytes; its header says $(wc -c <"$M"))"
    head -c 100 "$M" >"$W/trunc2.ckpt"
    cr info -m "$W/trunc2.ckpt"; expect "checkpoint shorter than its header" 1 "charrnn: '$W/trunc2.ckpt' is truncated (100 bytes; the header alone needs 132)"
    cp "$M" "$W/flip.ckpt"
    printf '\x55' | dd of="$W/flip.ckpt" bs=1 seek=5000 conv=notrunc status=none
    cr sample -m "$W/flip.ckpt"
    check "bit-flipped checkpoint: exit 1" test $RC -eq 1
    check "bit-flipped checkpoint: says corrupt (CRC-32)" grep -q "^charrnn: '$W/flip.ckpt' is corrupt (CRC-32 [0-9a-f]*, expected [0-9a-f]*)$" "$TMP/err"
    cp "$M" "$W/future.ckpt"
    printf '\x07' | dd of="$W/future.ckpt" bs=1 seek=4 conv=notrunc status=none
    cr info -m "$W/future.ckpt"
    expect "future-version checkpoint" 1 "charrnn: '$W/future.ckpt' is checkpoint format version 7; this charrnn reads version 1 (written by a newer charrnn)"
    cat "$M" data/tang.txt >"$W/long.ckpt"
    cr info -m "$W/long.ckpt"; check "trailing junk refused" grep -q "unexpected bytes after its end" "$TMP/err"
    cr info -m data; expect "directory as checkpoint" 1 "charrnn: cannot read 'data': Is a directory"

    # --- resume: interrupted + resumed == straight (same sampled bytes; test_rnn checks bit-identity)
    cr train data/fortunes.txt "${small[@]}" --steps 40 --eval-every 20 -o "$W/straight.ckpt"; expect "40 steps straight" 0
    cr train data/fortunes.txt "${small[@]}" --steps 25 --eval-every 20 -o "$W/r.ckpt"; expect "25 steps" 0
    cr train data/fortunes.txt --resume --steps 40 --eval-every 20 --threads 1 -q -o "$W/r.ckpt"; expect "--resume to 40 steps" 0
    "$BIN" sample -m "$W/straight.ckpt" -n 400 --seed 11 >"$W/a.txt"
    "$BIN" sample -m "$W/r.ckpt" -n 400 --seed 11 >"$W/b.txt"
    check "resumed model samples the same bytes as the straight one" cmp -s "$W/a.txt" "$W/b.txt"
    cr train data/fortunes.txt --resume --hidden 64 -o "$W/r.ckpt"
    expect "--resume refuses a shape change" 2 "charrnn train: --hidden cannot change when resuming: the checkpoint fixes it"
    cr train data/tang.txt --resume -q -o "$W/r.ckpt"; expect "--resume on another corpus" 1
    cr train data/fortunes.txt --resume -q -o "$W/m.best.ckpt"
    expect "--resume from a weights-only checkpoint" 1 "charrnn: '$W/m.best.ckpt' holds no training state to resume"
    cr train data/fortunes.txt --resume --steps 45 --lr 0.001 -q -o "$W/r.ckpt"; expect "--resume with a new --lr" 0

    # --- signals: SIGINT / SIGTERM save and exit 130 / 143; SIGKILL never leaves an unloadable checkpoint
    for sig in INT TERM; do
        rm -f "$W/sig.ckpt"
        printf '%s\n' "train (SIG$sig)" >>"$TMP/ran.log"
        "$BIN" train data/fortunes.txt --hidden 64 --steps 1000000 --eval-every 0 --threads 2 -o "$W/sig.ckpt" \
            >"$W/sig.out" 2>"$W/sig.err" &
        local pid=$!
        sleep 1.5
        kill -s $sig $pid
        wait $pid
        RC=$?
        local want=130
        [ $sig = TERM ] && want=143
        check "SIG$sig: exit $want" test $RC -eq $want
        check "SIG$sig: says where it stopped and how to resume" grep -q "^charrnn: interrupted at step [0-9]* (epoch [0-9.]*); saved '$W/sig.ckpt'. Resume with: charrnn train --resume -o $W/sig.ckpt data/fortunes.txt$" "$W/sig.err"
        "$BIN" info -m "$W/sig.ckpt" >/dev/null 2>&1
        check "SIG$sig: the saved checkpoint loads" test $? -eq 0
    done
    # a second signal aborts at once (no save, no message) and leaves the previous checkpoint intact. SIGINT and
    # SIGTERM back to back: distinct signals never merge while pending, so exactly one asks for a graceful stop
    # and the other aborts, well inside one ~0.2 s step.
    "$BIN" train data/fortunes.txt --hidden 1024 --batch 64 --seq 64 --steps 1 --val 0.01 --threads 2 -q -o "$W/sig2.ckpt"
    local before
    before=$(cksum <"$W/sig2.ckpt")
    printf '%s\n' "train (two signals)" >>"$TMP/ran.log"
    "$BIN" train data/fortunes.txt --resume --steps 1000000 --eval-every 0 --threads 2 -o "$W/sig2.ckpt" \
        >"$W/sig2.out" 2>"$W/sig2.err" &
    pid=$!
    sleep 1.5
    kill -INT $pid; kill -TERM $pid
    wait $pid
    RC=$?
    check "second signal aborts at once: killed by the signal (status $RC)" test $RC -eq 130 -o $RC -eq 143
    check "second signal: no 'interrupted' message, no save" bash -c "! grep -q interrupted '$W/sig2.err'"
    check "second signal: the previous checkpoint is intact" test "$(cksum <"$W/sig2.ckpt")" = "$before"
    "$BIN" train data/fortunes.txt --resume --threads 1 -q --steps $(( $("$BIN" info -m "$W/sig.ckpt" | sed -n 's/^steps: *\([0-9]*\).*/\1/p') + 3 )) -o "$W/sig.ckpt"
    check "an interrupted run resumes" test $? -eq 0
    # SIGKILL at random moments of a run that saves every step
    "$BIN" train data/fortunes.txt --hidden 32 --batch 4 --seq 16 --steps 3 --threads 1 -q -o "$W/kill.ckpt"
    local kills=0 loadable=0
    for i in 1 2 3 4 5 6; do
        "$BIN" train data/fortunes.txt --resume --steps 1000000 --eval-every 1 --preview 0 --threads 1 -q -o "$W/kill.ckpt" &
        local pid=$!
        sleep "0.$((RANDOM % 9 + 1))"
        kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
        wait $pid 2>/dev/null
        "$BIN" info -m "$W/kill.ckpt" >/dev/null 2>&1 && loadable=$((loadable + 1))
        rm -f "$W"/kill.ckpt.tmp.* "$W"/kill.best.ckpt.tmp.*
    done
    check "SIGKILL x$kills during saves: checkpoint loadable every time ($loadable/6)" test $loadable -eq 6
    printf '%s\n' "train --resume (SIGKILL loop) --eval-every --preview" >>"$TMP/ran.log"

    # --- every flag that --help shows was exercised above
    for sub in train sample info plot; do
        local missing=""
        while read -r f; do
            [ "$f" = "--help" ] && continue
            grep -qE -- "(^|[ ])$f([ =]|$)" "$TMP/ran.log" && continue
            local short   # "-o, --output FILE": the short form counts too
            short=$(grep -oE -- "-[a-z], $f( |$)" "$W/help-$sub" | cut -c1-2)
            [ -n "$short" ] && grep -qE -- "(^|[ ])$short( |$)" "$TMP/ran.log" && continue
            missing="$missing $f"
        done <"$W/flags-$sub"
        check "every '$sub --help' flag is exercised${missing:+ (missing:$missing)}" test -z "$missing"
    done
}

# ------------------------------------------------------------------------------------------------ run
LABEL=""
echo "# library tests (default kernel)"
unit . ""
for k in avx2 generic; do
    echo "# library tests on the $k micro-kernel"
    CHARRNN_KERNEL=$k unit . "[$k]" gemm gradcheck-lstm gradcheck-gru threads
done
echo "# mutation checks: each must be caught"
mutations
echo "# command line"
BIN=$ROOT/charrnn LABEL="cli:" cli plain
if [ $SAN_OK = 1 ]; then
    export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    echo "# library tests under AddressSanitizer + UndefinedBehaviorSanitizer"
    unit build-san "[asan+ubsan]"
    echo "# command line under AddressSanitizer + UndefinedBehaviorSanitizer"
    BIN=$ROOT/build-san/charrnn LABEL="[asan+ubsan] cli:" cli san
fi
echo "$PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
