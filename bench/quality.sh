#!/usr/bin/env bash
# Quality per minute, side by side: `charrnn train CORPUS --time T` and the PyTorch reference with the
# configuration charrnn chose (cell, layers, hidden, dropout, batch, seq, lr, clip, schedule, warm-up, floor,
# averaged weights), T seconds of training each. Prints one markdown row per corpus: charrnn's model, steps,
# chars/s, last and best validation loss, then the reference's steps, chars/s and validation loss (one pass
# over the same last 10%), all in nats/char.
#
#   bench/quality.sh [--seconds T] [--threads N] [--together] [--no-torch] CORPUS... [-- TRAIN ARGS]
#
# By default charrnn runs first and the reference right after it, each with N threads (default 2), the
# reference configured from `charrnn info --json` of the checkpoint. --together runs both at once, one
# thread each on its own processor (taskset), the reference configured from charrnn's start-up lines and the
# defaults in `charrnn train --help` (checked against the checkpoint afterwards): the two then share the
# machine's conditions exactly. TRAIN ARGS go to charrnn (for example --cell lstm); with --together only
# options that change the model's shape belong there.
# Needs ./charrnn (make) and, for the reference, Debian's python3-torch and ../shared/bench/torch_charrnn.py
# (wrapped by bench/torch_schedule.py). Results: docs/quality.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=120 THREADS=2 TORCH=1 TOGETHER=0 CORPORA=() EXTRA=()
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) SECS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --together) TOGETHER=1; THREADS=1; shift ;;
        --no-torch) TORCH=0; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -*) echo "usage: bench/quality.sh [--seconds T] [--threads N] [--together] [--no-torch] CORPUS... [-- TRAIN ARGS]" >&2
            exit 2 ;;
        *) CORPORA+=("$1"); shift ;;
    esac
done
[ ${#CORPORA[@]} -gt 0 ] || { echo "bench/quality.sh: no corpus given" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
field() { $PY -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$@"; }
# the default of a train option, from --help: "(default X)" or "X (default)"
default() {
    ./charrnn train --help | sed -n -e "s/^ *--$1 [^(]*(default \([^)]*\)).*/\1/p" \
        -e "s/^ *--$1 [A-Z]* *\([a-z0-9.]*\) (default).*/\1/p" | head -n 1
}
cpu() { if [ $TOGETHER = 1 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

torch_run() {   # cell layers hidden dropout batch seq lr clip optim schedule floor warmup ema unit corpus
    cpu 1 $PY bench/torch_schedule.py --lr-schedule "${10}" --lr-floor "${11}" --warmup "${12}" --ema "${13}" -- \
        --data "${15}" --unit "${14}" --model "$1" --layers "$2" --hidden "$3" --dropout "$4" --batch "$5" \
        --seq "$6" --lr "$7" --clip "$8" --optim "$9" --seconds "$SECS" --threads "$THREADS" --print-every 0 \
        >"$TMP/torch.json" 2>"$TMP/torch.err"
}

printf '| corpus | charrnn model | steps | chars/s | last val | best val | PyTorch steps | chars/s | PyTorch val |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
for c in "${CORPORA[@]}"; do
    rm -f "$TMP/train.err" "$TMP/torch.json"
    cpu 0 ./charrnn train "$c" --time "$SECS" --threads "$THREADS" "${EXTRA[@]}" -o "$TMP/q.ckpt" --force \
        --preview 0 2>"$TMP/train.err" >/dev/null &
    pid=$!
    tpid=
    if [ $TORCH = 1 ] && [ $TOGETHER = 1 ]; then   # the shape from the start-up lines, the rest from --help
        until grep -q 'sized for\|parameters;' "$TMP/train.err" 2>/dev/null && [ "$(wc -l <"$TMP/train.err")" -ge 2 ]; do
            kill -0 $pid 2>/dev/null || break
            sleep 0.2
        done
        read -r cell L H <<<"$(sed -n '1s/^charrnn: \([a-z]*\) \([0-9]*\) x \([0-9]*\),.*/\1 \2 \3/p' "$TMP/train.err")"
        drop=$(sed -n 's/.* dropout \([0-9.]*\) (sized.*/\1/p' "$TMP/train.err" | head -n 1)
        unit=char; grep -q '^charrnn: .* symbols (bytes)' "$TMP/train.err" && unit=byte
        torch_run "$cell" "$L" "$H" "${drop:-$(default dropout)}" "$(default batch)" "$(default seq)" "$(default lr)" \
            "$(default clip)" adam "$(default lr-schedule)" "$(default lr-floor)" "$(default warmup)" \
            "$(default ema)" $unit "$c" &
        tpid=$!
    fi
    wait $pid
    ./charrnn info -m "$TMP/q.ckpt" --json >"$TMP/info.json"
    g() { field "$TMP/info.json" "$1"; }
    unit=char; [ "$(g unit)" = bytes ] && unit=byte
    args=("$(g cell)" "$(g layers)" "$(g hidden)" "$(g dropout)" "$(g batch)" "$(g seq)" "$(g lr)" "$(g clip)" "$(g optim)"
          "$(g lr_schedule)" "$(g lr_floor)" "$(g warmup)" "$(g ema)" $unit "$c")
    if [ -n "$tpid" ]; then
        wait $tpid
        given=$($PY -c 'import json,sys; c=json.loads(open(sys.argv[1]).read().splitlines()[-1])["config"]; print(c["model"], c["layers"], c["hidden"], c["dropout"], c["batch"], c["seq"])' "$TMP/torch.json")
        [ "$given" = "${args[*]:0:6}" ] || [ "$(printf '%s %s %s %g %s %s' "${args[@]:0:6}")" = "$(printf '%s %s %s %g %s %s' $given)" ] ||
            echo "bench/quality.sh: the reference ran '$given', charrnn '${args[*]:0:6}'" >&2
    elif [ $TORCH = 1 ]; then
        torch_run "${args[@]}"
    fi
    done_line=$(tr '\r' '\n' <"$TMP/train.err" | grep '^done:' | tail -n 1)
    cps=$(sed -n 's/.* \([0-9][0-9]*\) chars\/s.*/\1/p' <<<"$done_line")
    model="$(g cell) $(g layers)x$(g hidden) d$(g dropout) B$(g batch) T$(g seq) lr $(g lr) $(g lr_schedule) ema $(g ema)"
    tsteps=- tcps=- tval=-
    if [ $TORCH = 1 ]; then
        tail -n 1 "$TMP/torch.json" >"$TMP/t.json"
        tsteps=$(field "$TMP/t.json" steps) tcps=$(field "$TMP/t.json" chars_per_sec) tval=$(field "$TMP/t.json" val_loss)
    fi
    printf '| %s | %s | %s | %s | %.4f | %.4f | %s | %s | %s |\n' "$(basename "$c")" "$model" "$(g steps)" "$cps" \
        "$(g val_loss)" "$(g best_val_loss)" "$tsteps" "${tcps%.*}" "$tval"
done
