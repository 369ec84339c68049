/* tests/fuzz_plot.c — fuzz target: plot's log parser (plot_parse, plot.h) on any bytes. Properties: no crash, leak
 * or out-of-bounds read; a result code plot.h defines; a PLOT_BAD_ROW / PLOT_BAD_VAL names a line that exists;
 * PLOT_OK means at least one point (training or validation), and every point is finite, except the training
 * curve's break points (y NaN where a run starts, never first and never two in a row). Seeds: tests/fuzz/plot/
 * (real logs; break-after-row: a regression input from before breaks were allowed). */
#include "fuzz.h"
#include "plot.h"

#include <math.h>
#include <string.h>

static void check_series(const plot_series *s, const char *what, int breaks) {
    if (s->n > s->cap) fuzz_fail("%s: %zu points in room for %zu", what, s->n, s->cap);
    for (size_t i = 0; i < s->n; i++) {
        int brk = breaks && isnan(s->p[i].y) && i > 0 && !isnan(s->p[i - 1].y);
        if (!isfinite(s->p[i].x) || (!isfinite(s->p[i].y) && !brk)) fuzz_fail("%s point %zu is not finite", what, i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy: ASan then sees any read past the end (the parser must not need a terminator). */
    char *buf = calloc(size ? size : 1, 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    plot_series tr = {0}, va = {0}, lr = {0};
    size_t lineno = 0;
    int e = plot_parse(buf, size, &tr, &va, &lr, &lineno);
    if (e < PLOT_OK || e > PLOT_OOM) fuzz_fail("plot_parse returned %d", e);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += buf[i] == '\n';
    if ((e == PLOT_BAD_ROW || e == PLOT_BAD_VAL) && (lineno < 1 || lineno > lines))
        fuzz_fail("error on line %zu of %zu", lineno, lines);
    if (e == PLOT_OK && tr.n + va.n == 0) fuzz_fail("PLOT_OK without points");
    if (e == PLOT_OK) { check_series(&tr, "training", 1); check_series(&va, "validation", 0); }
    if (e == PLOT_OK) check_series(&lr, "learning rate", 0);
    for (size_t i = 0; e == PLOT_OK && i < lr.n; i++)
        if (lr.p[i].y < 0) fuzz_fail("learning rate point %zu is negative", i);
    free(lr.p);
    free(tr.p);
    free(va.p);
    free(buf);
    return 0;
}
