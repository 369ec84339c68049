# tests/cli_plot.sh — `charrnn plot`: usage errors, the SVG of a log, a file that is not a log.
# Sourced by test.sh; the functions run inside its cli(), whose locals they see: W (work directory), M
# (the small model), Z, B, small (options of a small model). cr/expect/check are defined in test.sh.

# bad arguments
cli_plot_usage() {
    cr plot; expect "plot without a log" 2 "charrnn plot: expected one LOG file"
}

# the log of cli_train_small
cli_plot_run() {
    cr plot "$W/log.csv"; expect "plot" 0
    check "plot writes an SVG with both curves and a legend" bash -c "grep -q '<svg' '$TMP/out' && grep -c '<polyline' '$TMP/out' | grep -qx 2 && grep -q validation '$TMP/out' && tail -n1 '$TMP/out' | grep -q '</svg>'"
    echo "hello" >"$W/notlog.csv"
    cr plot "$W/notlog.csv"; expect "plot of a non-log" 1 "charrnn: '$W/notlog.csv' is not a charrnn training log (its first line is not 'step,seconds,train_loss,val_loss,lr,chars_per_sec')"
}
