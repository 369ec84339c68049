/* cmd_plot.c — `charrnn plot LOG > loss.svg`: the training and validation loss curves of a `train --log` CSV
 * as a self-contained SVG (axes, ticks, labels, legend) that any browser renders, and the learning rate on a
 * second axis when it changes over the log (a schedule, --lr-decay). Part of the command line:
 * it prints errors as "charrnn: ..." and returns the exit code. The parser (plot_parse) works on bytes in
 * memory.
 * Must not know: the library; the log's columns are the only contract with `train --log` (cmd_train.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "plot.h"

#define HEADER "step,seconds,train_loss,val_loss,lr,chars_per_sec"

typedef plot_pt pt;
typedef plot_series series;

static int push(series *s, double x, double y) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        pt *np = realloc(s->p, cap * sizeof *np);
        if (!np) return -1;
        s->p = np;
        s->cap = cap;
    }
    s->p[s->n++] = (pt){x, y};
    return 0;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks over span. */
static double nice_step(double span, int n) {
    double raw = span / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* The curve s as one <polyline> per run of points: a break point (y NaN) ends one and the next starts after
 * it. */
static void polyline(const series *s, double (*sx)(double, const double *),
                     double (*sy)(double, const double *), const double *k, const char *color, int dots) {
    for (size_t i = 0; i < s->n;) {
        while (i < s->n && isnan(s->p[i].y)) i++;
        if (i == s->n) break;
        printf("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", color);
        for (; i < s->n && !isnan(s->p[i].y); i++) printf("%.1f,%.1f ", sx(s->p[i].x, k), sy(s->p[i].y, k));
        printf("\"/>\n");
    }
    if (dots)
        for (size_t i = 0; i < s->n; i++)
            if (!isnan(s->p[i].y))
                printf("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", sx(s->p[i].x, k),
                       sy(s->p[i].y, k), color);
}

/* k = {x0, x1, y0, y1, left, top, width, height} */
static double to_x(double x, const double *k) { return k[4] + (x - k[0]) / (k[1] - k[0]) * k[6]; }
static double to_y(double y, const double *k) { return k[5] + k[7] - (y - k[2]) / (k[3] - k[2]) * k[7]; }

/* The next line of buf[*off..len) into line: 0 at the end, 1 for a line, 2 for a line longer than 511 bytes
 * (its first 511 in line, the rest skipped, so that line numbers stay true). */
static int next_line(const char *buf, size_t len, size_t *off, char line[512]) {
    if (*off >= len) return 0;
    size_t k = 0;
    while (k < 511 && *off < len) {
        char ch = buf[(*off)++];
        line[k++] = ch;
        if (ch == '\n') break;
    }
    line[k] = 0;
    if (k < 511 || line[k - 1] == '\n' || *off >= len) return 1;
    if (buf[*off] == '\n') {   /* exactly 511 bytes, then the newline */
        ++*off;
        return 1;
    }
    while (*off < len && buf[(*off)++] != '\n') {}
    return 2;
}

/* Ends the current run of the training curve with a break point (y NaN), unless it is empty or already
 * ended. */
static int brk(series *tr, double step) {
    return tr->n && !isnan(tr->p[tr->n - 1].y) ? push(tr, step, NAN) : 0;
}

int plot_parse(const char *buf, size_t len, series *tr, series *va, series *lr, size_t *lineno) {
    char line[512];
    size_t off = 0, points = 0;
    *lineno = 1;
    if (!next_line(buf, len, &off, line) || strncmp(line, HEADER, strlen(HEADER))) return PLOT_NOT_LOG;
    for (int r; (r = next_line(buf, len, &off, line));) {
        ++*lineno;
        if (r == 2) return PLOT_BAD_ROW;   /* no log row is that long */
        if (line[0] == '\n') continue;
        if (!strncmp(line, HEADER, strlen(HEADER))) {   /* another log appended to this one: a new run */
            if (brk(tr, tr->n ? tr->p[tr->n - 1].x : 0)) return PLOT_OOM;
            continue;
        }
        char *fields[6] = {0}, *s = line;
        int nf = 0;
        for (; nf < 6; nf++) {
            fields[nf] = s;
            char *c = strpbrk(s, ",\n");
            if (!c) { nf++; break; }
            int last = *c == '\n';
            *c = 0;
            s = c + 1;
            if (last) { nf++; break; }
        }
        char *e1, *e2 = NULL, *e3;
        double step = nf >= 4 ? strtod(fields[0], &e1) : NAN;
        double tl = nf >= 4 && fields[2][0] ? strtod(fields[2], &e2) : NAN;   /* empty: no step yet */
        if (nf < 4 || *e1 || !isfinite(step) || step < 0 || step > 1e15 || (e2 && (*e2 || !isfinite(tl))))
            return PLOT_BAD_ROW;
        /* a row without train_loss starts a run (train writes one); so does a step that goes back */
        if ((isnan(tl) || (tr->n && step <= tr->p[tr->n - 1].x)) && brk(tr, step)) return PLOT_OOM;
        if (!isnan(tl)) {
            if (push(tr, step, tl)) return PLOT_OOM;
            points++;
        }
        if (fields[3][0]) {
            double vl = strtod(fields[3], &e3);
            if (*e3 || !isfinite(vl)) return PLOT_BAD_VAL;
            if (push(va, step, vl)) return PLOT_OOM;
            points++;
        }
        double rate = lr && nf >= 5 && fields[4][0] ? strtod(fields[4], &e3) : NAN;   /* unreadable: no point */
        if (lr && !isnan(rate) && !*e3 && isfinite(rate) && rate >= 0 && push(lr, step, rate)) return PLOT_OOM;
    }
    return points ? PLOT_OK : PLOT_NO_DATA;
}

/* Reads all of f into a malloc'd buffer (NULL when out of memory); *err gets errno of a read error, else
 * 0. */
static char *read_stream(FILE *f, size_t *len, int *err) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    *err = 0;
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) *err = errno ? errno : EIO;
    *len = n;
    return buf;
}

/* The learning rate lr (if it changes) as a dashed line on a second axis at the right, from 0 to its largest
 * value; k is the loss axes' mapping, whose x it shares. Returns whether it drew it (the legend then lists it). */
static int draw_lr(const series *lr, const double *k) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < lr->n; i++) lo = fmin(lo, lr->p[i].y), hi = fmax(hi, lr->p[i].y);
    if (!(hi > lo)) return 0;
    double ls = nice_step(hi, 4), kl[8];
    memcpy(kl, k, sizeof kl);
    kl[2] = 0;
    kl[3] = ceil(hi / ls) * ls;
    for (int i = 0; i * ls <= kl[3] + ls / 2 && i < 50; i++)
        printf("<text x=\"%.1f\" y=\"%.1f\" fill=\"#2ca02c\">%g</text>\n", k[4] + k[6] + 6,
               to_y(i * ls, kl) + 4, i * ls);
    printf("<text transform=\"translate(%.0f %.0f) rotate(90)\" text-anchor=\"middle\" fill=\"#2ca02c\">"
           "learning rate</text>\n", k[4] + k[6] + 52, k[5] + k[7] / 2);
    printf("<polyline class=\"lr\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"1.2\" "
           "stroke-dasharray=\"5,3\" points=\"");
    for (size_t i = 0; i < lr->n; i++)   /* (a run's start row may lie before the first loss: left out) */
        if (lr->p[i].x >= k[0] && lr->p[i].x <= k[1])
            printf("%.1f,%.1f ", to_x(lr->p[i].x, kl), to_y(lr->p[i].y, kl));
    printf("\"/>\n");
    return 1;
}

/* The SVG of the two curves (and the learning rate's, draw_lr) on stdout. */
static void draw_svg(const series *tr, const series *va, const series *lr) {
    const pt first = tr->n ? tr->p[0] : va->p[0];
    double x0 = first.x, x1 = first.x, y0 = first.y, y1 = first.y;
    const series *all[2] = {tr, va};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < all[k]->n; i++) {
            if (isnan(all[k]->p[i].y)) continue;   /* a break */
            x0 = fmin(x0, all[k]->p[i].x); x1 = fmax(x1, all[k]->p[i].x);
            y0 = fmin(y0, all[k]->p[i].y); y1 = fmax(y1, all[k]->p[i].y);
        }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 0.1;
    double ys = nice_step(y1 - y0, 6), xs = nice_step(x1 - x0, 8);
    y0 = floor(y0 / ys) * ys;
    y1 = ceil(y1 / ys) * ys;
    const double W = 820, H = 500, k[8] = {x0, x1, y0, y1, 70, 40, W - 140, H - 100};
    printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
           "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
           W, H, W, H);
    printf("<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">charrnn training: loss per "
           "character</text>\n",
           W / 2);
    for (int i = 0; y0 + i * ys <= y1 + ys / 2 && i < 50; i++) {   /* counted: no float loop can stall */
        double y = y0 + i * ys, py = to_y(y, k);
        printf("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
               k[4], py, k[4] + k[6], py, k[4] - 6, py + 4, y);
    }
    for (int i = 0; ceil(x0 / xs) * xs + i * xs <= x1 + xs / 1e6 && i < 50; i++) {
        double x = ceil(x0 / xs) * xs + i * xs, px = to_x(x, k);
        printf("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
               px, k[5], px, k[5] + k[7], px, k[5] + k[7] + 16, x);
    }
    printf("<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>\n",
           k[4], k[5], k[6], k[7]);
    printf("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n", k[4] + k[6] / 2, H - 22);
    printf("<text transform=\"translate(18 %.0f) rotate(-90)\" text-anchor=\"middle\">loss "
           "(nats/char)</text>\n",
           k[5] + k[7] / 2);
    int with_lr = draw_lr(lr, k);
    polyline(tr, to_x, to_y, k, "#1f77b4", 0);
    polyline(va, to_x, to_y, k, "#ff7f0e", 1);
    size_t best = 0;   /* the first lowest validation loss: the model the .best.ckpt file holds */
    for (size_t i = 1; i < va->n; i++)
        if (va->p[i].y < va->p[best].y) best = i;
    if (va->n)
        printf("<circle class=\"best\" cx=\"%.1f\" cy=\"%.1f\" r=\"7\" fill=\"none\" stroke=\"#d62728\" "
               "stroke-width=\"2\"><title>best validation: %.4f at step %.0f</title></circle>\n",
               to_x(va->p[best].x, k), to_y(va->p[best].y, k), va->p[best].y, va->p[best].x);
    double lx = k[4] + k[6] - 220, ly = k[5] + 12;
    printf("<rect x=\"%.0f\" y=\"%.0f\" width=\"210\" height=\"%d\" fill=\"white\" stroke=\"#999\"/>\n", lx,
           ly, (va->n ? 65 : 46) + (with_lr ? 19 : 0));
    if (va->n)
        printf("<circle cx=\"%.0f\" cy=\"%.0f\" r=\"6\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>"
               "<text x=\"%.0f\" y=\"%.0f\">best: %.4f at step %.0f</text>\n",
               lx + 21, ly + 53, lx + 40, ly + 57, va->p[best].y, va->p[best].x);
    double lry = ly + (va->n ? 72 : 53);
    if (with_lr)
        printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#2ca02c\" stroke-width=\"2\" "
               "stroke-dasharray=\"5,3\"/><text x=\"%.0f\" y=\"%.0f\">learning rate (right axis)</text>\n",
               lx + 8, lry, lx + 34, lry, lx + 40, lry + 4);
    printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
           "<text x=\"%.0f\" y=\"%.0f\">training (smoothed)</text>\n",
           lx + 8, ly + 15, lx + 34, ly + 15, lx + 40, ly + 19);
    printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#ff7f0e\" stroke-width=\"2\"/>"
           "<text x=\"%.0f\" y=\"%.0f\">validation</text>\n</svg>\n",
           lx + 8, ly + 34, lx + 34, ly + 34, lx + 40, ly + 38);
}

int cmd_plot(int argc, char **argv) {
    command c = {"plot", "LOG",
                 "Draw the loss curves of a 'charrnn train --log LOG' CSV ('-' reads standard input) as SVG "
                 "on standard output.",
                 NULL, 0};
    const char *pos[1];
    int npos, r = parse_args(&c, argc, argv, pos, 1, &npos);
    if (r) return r < 0 ? 0 : r;
    if (npos != 1) return usage_error(&c, "expected one LOG file");
    if (cli_args_only) return 0;
    int is_stdin = !strcmp(pos[0], "-");
    char nb[4200];
    const char *name = input_name(pos[0], nb, sizeof nb);
    FILE *f = is_stdin ? stdin : fopen(pos[0], "r");
    if (!f) return fail("cannot open %s: %s", name, strerror(errno));
    size_t len, lineno;
    int rerr, rc = 1;
    char *buf = read_stream(f, &len, &rerr);
    if (!is_stdin) fclose(f);
    series tr = {0}, va = {0}, lr = {0};
    int e = buf ? plot_parse(buf, len, &tr, &va, &lr, &lineno) : PLOT_OOM;
    if (rerr) fail("cannot read %s: %s", name, strerror(rerr));
    else if (e == PLOT_OOM) fail("out of memory");
    else if (len == 0) fail("%s is empty", name);
    else if (e == PLOT_NOT_LOG)
        fail("%s is not a charrnn training log (its first line is not '%s')", name, HEADER);
    else if (e == PLOT_BAD_ROW) fail("%s line %zu is not a log row", name, lineno);
    else if (e == PLOT_BAD_VAL) fail("%s line %zu has a bad val_loss", name, lineno);
    else if (e == PLOT_NO_DATA) fail("%s has no data rows", name);
    else {
        draw_svg(&tr, &va, &lr);
        rc = 0;
    }
    free(buf);
    free(tr.p);
    free(va.p);
    free(lr.p);
    return rc;
}
