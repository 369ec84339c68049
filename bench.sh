#!/usr/bin/env bash
# bench.sh — speed and memory figures for charrnn (prints a table; asserts nothing).
#
#   ./bench.sh [--threads N] [--seconds S] [--only NAME] [--torch]
#
# For each configuration: training chars/s (the training loop only, from charrnn's summary line), the FLOPs
# per character implied by the shapes and the fraction of the machine's FP32 FMA peak that reaches, peak RSS
# while training, and sampling chars/s (batch 1). With --torch, the PyTorch reference
# (../shared/bench/torch_charrnn.py, Debian's python3-torch) runs the same configuration right after, with the
# same threads, and the ratios are printed; the -bf16 rows train with --precision bf16, and PyTorch then runs under
# --autocast bf16 (its mixed precision). Corpus: ../shared/corpora/tinyshakespeare.txt if present, else
# data/fortunes.txt. Peak FLOPS: ../shared/bench/peak.c if present (compiled here), else not shown.
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
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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
V=$(./charrnn train "$CORPUS" --steps 1 --hidden 1 --batch 1 --seq 1 --val 0 --eval-every 0 --threads 1 2>&1 -o "$TMP/v.ckpt" \
    | sed -n 's/.*, \([0-9]*\) symbols (.*/\1/p')

echo "# corpus $CORPUS (vocabulary $V), $THREADS threads, ~${SECONDS_PER}s of training per run, kernel ${CHARRNN_KERNEL:-auto}"
[ -n "$PEAK" ] && echo "# FP32 FMA peak (../shared/bench/peak.c, all cores): $PEAK GFLOPS"
printf '%-14s %12s %8s %7s %9s %12s' config train_c/s GFLOPS %peak rss_MB sample_c/s
[ $TORCH = 1 ] && printf ' | %12s %7s %9s %12s %7s' torch_c/s ratio torch_MB torch_smp/s ratio
echo

# name | cell layers hidden batch seq optim lr dropout precision (lstm-default: what `charrnn train --cell lstm` does)
CONFIGS="minchar|rnn 1 100 1 25 adagrad 0.1 0 fp32
rnn512|rnn 1 512 64 64 adam 0.002 0 fp32
rnn512-bf16|rnn 1 512 64 64 adam 0.002 0 bf16
rnn2x1024|rnn 2 1024 128 64 adam 0.002 0 fp32
lstm2x512|lstm 2 512 64 64 adam 0.002 0 fp32
lstm2x512-bf16|lstm 2 512 64 64 adam 0.002 0 bf16
lstm-default|lstm 2 512 32 64 adam 0.002 0.25 fp32"

while IFS='|' read -r name spec; do
    [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && continue
    read -r cell layers hidden batch seq optim lr dropout prec <<<"$spec"
    G=1; [ $cell = lstm ] && G=4; [ $cell = gru ] && G=3
    # multiply-adds per training character: layer 0 3*H*GH (one-hot input), upper layers 6*H*GH, output 3*H*V
    FLOPS=$(awk -v L=$layers -v H=$hidden -v G=$G -v V=$V 'BEGIN { gh = G * H; print 2 * (3 * H * gh + (L - 1) * 6 * H * gh + 3 * H * V) }')
    args=(--cell $cell --layers $layers --hidden $hidden --batch $batch --seq $seq --optim $optim --lr $lr --dropout $dropout
          --precision $prec)
    $TIME ${TIME:+-f %M -o "$TMP/rss"} ./charrnn train "$CORPUS" "${args[@]}" --time "$SECONDS_PER" --val 0 --eval-every 0 \
        --threads "$THREADS" -o "$TMP/$name.ckpt" 2>"$TMP/train.err"
    cps=$(sed -n 's/.* \([0-9][0-9]*\) chars\/s.*/\1/p' "$TMP/train.err" | tail -n 1)
    rss=$([ -n "$TIME" ] && awk '{ printf "%.0f", $1 / 1024 }' "$TMP/rss" || echo n/a)
    n=200000; [ $hidden -ge 1024 ] && n=20000
    t0=$(date +%s.%N)
    ./charrnn sample -m "$TMP/$name.ckpt" -n $n --seed 1 >/dev/null
    t1=$(date +%s.%N)
    sps=$(awk -v n=$n -v a=$t0 -v b=$t1 'BEGIN { printf "%.0f", n / (b - a) }')
    gfl=$(awk -v c="$cps" -v f=$FLOPS 'BEGIN { printf "%.1f", c * f / 1e9 }')
    pct=$([ -n "$PEAK" ] && awk -v g=$gfl -v p=$PEAK 'BEGIN { printf "%.0f%%", 100 * g / p }' || echo n/a)
    printf '%-14s %12s %8s %7s %9s %12s' $name "$cps" $gfl $pct $rss $sps
    if [ $TORCH = 1 ]; then
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
