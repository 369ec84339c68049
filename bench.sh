#!/usr/bin/env bash
# bench.sh — speed and memory figures for charrnn (prints a table; asserts nothing). Finishes in bounded time on any
# machine: training runs --seconds each, and every inference run is sized from a short first run to take about
# --seconds / 4 (at most a few times that on a slow machine).
#
#   ./bench.sh [--threads N] [--seconds S] [--only NAME] [--torch]
#
# For each configuration: training chars/s (the training loop only, from charrnn's summary line), the FLOPs per
# character implied by the shapes and the fraction of the machine's FP32 FMA peak that reaches, peak RSS while
# training; then on one thread: the load time (`sample -n 1`), sampling symbols/s (one stream, the load time
# taken off), the read bandwidth of a plain summing loop over a buffer the size of the weights one symbol reads
# (readbw below: the machine's figure, not charrnn's, for that working-set size) and the sampling rate as a
# fraction of the bound it sets (bandwidth / weight bytes per symbol); then score chars/s and fill chars/s (a
# copy of the corpus slice with every tenth symbol blanked; a bidirectional model: --passes 4). With --torch,
# the PyTorch reference (../shared/bench/torch_charrnn.py, Debian's python3-torch) runs the same configuration
# right after, with the same threads, and the ratios are printed; the -bf16 rows train with --precision bf16,
# and PyTorch then runs under --autocast bf16 (its mixed precision). Corpus: ../shared/corpora/tinyshakespeare.txt
# if present, else data/fortunes.txt. Peak FLOPS: ../shared/bench/peak.c if present (compiled here), else not
# shown. The read loop is a C program of its own (written and compiled here) rather than a charrnn option: it
# measures the machine, not charrnn, and keeps benchmark code out of the binary.
set -u
cd "$(dirname "$0")" || exit 1
THREADS=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
SECONDS_PER=15
ONLY=""
TORCH=0
while [ $# -gt 0 ]; do
    case $1 in
        --threads) THREADS=$2; shift 2 ;;
        --seconds) SECONDS_PER=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --torch) TORCH=1; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
make -s charrnn || exit 1
CORPUS=../shared/corpora/tinyshakespeare.txt
[ -f "$CORPUS" ] || CORPUS=data/fortunes.txt
TORCH_PY=../shared/bench/torch_charrnn.py
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TIME=/usr/bin/time
[ -x $TIME ] || TIME=""

PEAK=""
if [ -f ../shared/bench/peak.c ] && cc -O3 -march=native ../shared/bench/peak.c -o "$TMP/peak" -lpthread 2>/dev/null; then
    # best all-core GFLOPS over the rows of the probe's table
    PEAK=$("$TMP/peak" 0.2 3 | awk -F'|' 'NF >= 3 { split($3, a, " "); if (a[1] + 0 > best) best = a[1] + 0 } END { if (best) print best }')
fi
# readbw BYTES: the best GB/s of a summing loop over a buffer of BYTES, read again and again for 0.3 s.
cat >"$TMP/readbw.c" <<'EOF_C'
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef float v8 __attribute__((vector_size(32)));
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    size_t n = (argc > 1 ? strtoull(argv[1], NULL, 10) : 0) / sizeof(v8);
    double best = 0;
    n -= n % 4;
    v8 *a = n >= 16 ? aligned_alloc(64, n * sizeof(v8)) : NULL, s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    if (!a) return 1;
    for (size_t i = 0; i < n; i++) a[i] = (v8){1, 2, 3, 4, 5, 6, 7, (float)(i & 7)};
    for (double t0 = now(), t = t0; t - t0 < 0.3;) {
        double a0 = now();
        for (size_t i = 0; i < n; i += 4) { s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3]; }
        t = now();
        if (t > a0 && n * sizeof(v8) / (t - a0) > best) best = n * sizeof(v8) / (t - a0);
    }
    v8 s = s0 + s1 + s2 + s3;
    printf("%.1f\n", best / 1e9 + 0 * s[0]);   /* 0 * s[0] is not folded (NaN): the loop stays */
    return 0;
}
EOF_C
READBW=""
cc -O2 -march=native -std=c11 "$TMP/readbw.c" -o "$TMP/readbw" 2>/dev/null && READBW="$TMP/readbw"
# secs CMD...: wall seconds of one run of CMD (output discarded)
secs() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'
}
# sized VAR SECS N0 NMAX BASE CMD... (CMD's size argument is the word @N@): runs CMD with N = N0, then, while its
# time beyond BASE seconds (the load) was under SECS / 2 and N < NMAX, with N scaled up to about SECS (at most x16
# a time, x8 when the time was within the load's noise; at most NMAX); sets VAR to the last run's N and its symbols
# per second beyond BASE.
sized() {
    local var=$1 want=$2 n=$3 max=$4 base=$5 t
    shift 5
    while :; do
        t=$(secs "${@//@N@/$n}")
        t=$(awk -v t="$t" -v b="$base" 'BEGIN { printf "%.4f", t - b }')
        if awk -v t="$t" -v w="$want" 'BEGIN { exit !(t >= w / 2) }' || [ "$n" -ge "$max" ]; then break; fi
        n=$(awk -v n="$n" -v t="$t" -v w="$want" -v m="$max" \
            'BEGIN { f = (t > 0 ? w / t : 8); f = f > 16 ? 16 : f; n = int(n * f) + 1; printf "%d", (n > m ? m : n) }')
    done
    printf -v "$var" '%s %s' "$n" "$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')"
}
# seconds each inference measurement aims at (beyond the load): a quarter of the training time, at least 1
INFER=$(awk -v s="$SECONDS_PER" 'BEGIN { printf "%.2f", (s / 4 > 1 ? s / 4 : 1) }')

V=$(./charrnn train "$CORPUS" --steps 1 --hidden 1 --batch 1 --seq 1 --val 0 --eval-every 0 --threads 1 2>&1 -o "$TMP/v.ckpt" \
    | sed -n 's/.*, \([0-9]*\) symbols (.*/\1/p')

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "# $(git rev-parse --short HEAD 2>/dev/null || echo '?'), ${CPU:-unknown CPU}, $(getconf _NPROCESSORS_ONLN) CPUs"
echo "# corpus $CORPUS (vocabulary $V), $THREADS threads training, ~${SECONDS_PER}s of training per run, inference runs" \
     "sized to ~${INFER}s on 1 thread, kernel ${CHARRNN_KERNEL:-auto}"
[ -n "$PEAK" ] && echo "# FP32 FMA peak (../shared/bench/peak.c, all cores): $PEAK GFLOPS"
printf '%-14s %12s %8s %7s %9s | %6s %10s %8s %10s %5s %10s %10s' config train_c/s GFLOPS %peak rss_MB load_s sample_c/s \
    rd_GB/s bound_c/s frac score_c/s fill_c/s
[ $TORCH = 1 ] && printf ' | %12s %7s %9s %12s %7s' torch_c/s ratio torch_MB torch_smp/s ratio
echo

# name | cell layers hidden batch seq optim lr dropout precision [bidir] (lstm-default: what `charrnn train --cell
# lstm` does; bidir: --bidirectional, no sampling)
CONFIGS="minchar|rnn 1 100 1 25 adagrad 0.1 0 fp32
rnn512|rnn 1 512 64 64 adam 0.002 0 fp32
rnn512-bf16|rnn 1 512 64 64 adam 0.002 0 bf16
rnn2x1024|rnn 2 1024 128 64 adam 0.002 0 fp32
lstm2x512|lstm 2 512 64 64 adam 0.002 0 fp32
lstm2x512-bf16|lstm 2 512 64 64 adam 0.002 0 bf16
lstm-default|lstm 2 512 32 64 adam 0.002 0.25 fp32
bilstm2x256|lstm 2 256 64 64 adam 0.002 0 fp32 bidir"

# The text score and fill read: up to 1 MB of the corpus (fill: every tenth character of a line blanked), cut to
# the size a short first run says fits the time.
head -c 1000000 "$CORPUS" >"$TMP/text.txt"
LC_ALL=C sed 's/\(.........\)./\1_/g' "$TMP/text.txt" >"$TMP/cloze.txt"
TEXT_BYTES=$(wc -c <"$TMP/text.txt")

while IFS='|' read -r name spec; do
    [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && continue
    read -r cell layers hidden batch seq optim lr dropout prec bidir <<<"$spec"
    G=1; [ $cell = lstm ] && G=4; [ $cell = gru ] && G=3
    # multiply-adds per training character: layer 0 3*H*GH (one-hot input), upper layers 6*H*GH, output 3*H*V
    # (a bidirectional model: two stacks, an output layer reading 2H)
    D=1; [ "${bidir:-}" = bidir ] && D=2
    FLOPS=$(awk -v L=$layers -v H=$hidden -v G=$G -v V=$V -v D=$D \
        'BEGIN { gh = G * H; print 2 * (D * (3 * H * gh + (L - 1) * 6 * H * gh) + 3 * D * H * V) }')
    args=(--cell $cell --layers $layers --hidden $hidden --batch $batch --seq $seq --optim $optim --lr $lr --dropout $dropout
          --precision $prec)
    [ "${bidir:-}" = bidir ] && args+=(--bidirectional)
    $TIME ${TIME:+-f %M -o "$TMP/rss"} ./charrnn train "$CORPUS" "${args[@]}" --time "$SECONDS_PER" --val 0 --eval-every 0 \
        --threads "$THREADS" -o "$TMP/$name.ckpt" 2>"$TMP/train.err"
    cps=$(sed -n 's/.* \([0-9][0-9]*\) chars\/s.*/\1/p' "$TMP/train.err" | tail -n 1)
    rss=$([ -n "$TIME" ] && awk '{ printf "%.0f", $1 / 1024 }' "$TMP/rss" || echo n/a)
    gfl=$(awk -v c="$cps" -v f=$FLOPS 'BEGIN { printf "%.1f", c * f / 1e9 }')
    pct=$([ -n "$PEAK" ] && awk -v g=$gfl -v p=$PEAK 'BEGIN { printf "%.0f%%", 100 * g / p }' || echo n/a)
    ck="$TMP/$name.ckpt"
    # load: the best of three `sample -n 1`; sampling: symbols/s over the time beyond the load
    load=9999
    for i in 1 2 3; do
        t=$(secs ./charrnn sample -m "$ck" -n 1 --seed 1 --threads 1)
        load=$(awk -v a="$t" -v b="$load" 'BEGIN { print (a < b ? a : b) }')
    done
    sps=n/a bw=n/a bound=n/a frac=n/a
    if [ "${bidir:-}" != bidir ]; then
        sized r "$INFER" 200 100000000 "$load" ./charrnn sample -m "$ck" -n @N@ --seed 1 --threads 1
        read -r n sps <<<"$r"
        # weight bytes one symbol reads: Wh of every layer, Wx above layer 0, Wy, one row of layer 0's Wx
        wb=$(awk -v L=$layers -v H=$hidden -v G=$G -v V=$V 'BEGIN { printf "%d", 4 * (L * H * G * H + (L - 1) * H * G * H + H * V + G * H) }')
        if [ -n "$READBW" ]; then
            bw=$("$READBW" "$wb")
            bound=$(awk -v b="$bw" -v w="$wb" 'BEGIN { printf "%.0f", b * 1e9 / w }')
            frac=$(awk -v s="$sps" -v b="$bound" 'BEGIN { printf "%.2f", (b > 0 ? s / b : 0) }')
        fi
    fi
    # score and fill: a head of the text sized to the time
    sized r "$INFER" 20000 "$TEXT_BYTES" "$load" sh -c "head -c @N@ '$TMP/text.txt' | ./charrnn score -m '$ck' --threads 1"
    read -r n scps <<<"$r"
    sized r "$INFER" 2000 "$TEXT_BYTES" "$load" \
        sh -c "head -c @N@ '$TMP/cloze.txt' | ./charrnn fill -m '$ck' --threads 1 --passes 4"
    read -r n fcps <<<"$r"
    printf '%-14s %12s %8s %7s %9s | %6.3f %10s %8s %10s %5s %10s %10s' $name "$cps" $gfl $pct $rss "$load" "$sps" "$bw" \
        "$bound" "$frac" "$scps" "$fcps"
    if [ $TORCH = 1 ] && [ "${bidir:-}" != bidir ]; then
        targs=(--data "$CORPUS" --model $cell --layers $layers --hidden $hidden --batch $batch --seq $seq --optim $optim
               --lr $lr --dropout $dropout --clip 5 --threads "$THREADS" --no-val --print-every 0)
        [ $prec = bf16 ] && targs+=(--autocast bf16)
        [ $hidden -ge 512 ] && [ "$THREADS" -gt 1 ] && targs+=(--omp-wait passive)
        $TIME ${TIME:+-f %M -o "$TMP/trss"} /usr/bin/python3 "$TORCH_PY" "${targs[@]}" --seconds "$SECONDS_PER" >"$TMP/torch.json" 2>/dev/null
        tcps=$(tail -n 1 "$TMP/torch.json" | sed -n 's/.*"chars_per_sec": \([0-9.]*\).*/\1/p')
        trss=$([ -n "$TIME" ] && awk '{ printf "%.0f", $1 / 1024 }' "$TMP/trss" || echo n/a)
        # torch sampling: the same run with and without --sample N, the difference over N characters
        ns=2000
        s0=$(date +%s.%N); /usr/bin/python3 "$TORCH_PY" "${targs[@]}" --steps 1 --sample 1 >/dev/null 2>&1; s1=$(date +%s.%N)
        /usr/bin/python3 "$TORCH_PY" "${targs[@]}" --steps 1 --sample $ns >/dev/null 2>&1; s2=$(date +%s.%N)
        tsps=$(awk -v n=$ns -v a=$s0 -v b=$s1 -v c=$s2 'BEGIN { d = (c - b) - (b - a); printf "%.0f", (d > 0 ? n / d : 0) }')
        printf ' | %12s %7s %9s %12s %7s' "${tcps%.*}" "$(awk -v a="$cps" -v b="$tcps" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')" \
            $trss $tsps "$(awk -v a="$sps" -v b="$tsps" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')"
    fi
    echo
done <<<"$CONFIGS"
