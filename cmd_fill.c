/* cmd_fill.c — `charrnn fill`: its options, the blanks of a text (from --text, a file or standard input)
 * filled by a bidirectional model from both sides or by a forward model from the left, or their --top
 * likeliest symbols.
 * Must not know: the library's internals (it includes rnn.h only), any other command. */
#define _POSIX_C_SOURCE 200809L
#include "cmd.h"
#include "cli.h"
#include "out.h"
#include "rnn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --top: one line per blank: its position (0-based, in symbols), then the n likeliest symbols, each followed
 * by its probability, tab-separated, likeliest first (ties: vocabulary order). */
static void print_top(const rnn_vocab *v, const float *probs, const unsigned char *blank, size_t nsym,
                      int n) {
    int V = v->size;
    n = n < V ? n : V;
    int *best = malloc(sizeof(int) * (size_t)n);
    if (!best) return;
    for (size_t i = 0, k = 0; i < nsym; i++) {
        if (!blank[i]) continue;
        const float *p = probs + k++ * (size_t)V;
        printf("%zu", i);
        for (int j = 0; j < n; j++) {   /* selection of the n best: n is small */
            int b = -1;
            for (int s = 0; s < V; s++) {
                int taken = 0;
                for (int q = 0; q < j && !taken; q++) taken = best[q] == s;
                if (!taken && (b < 0 || p[s] > p[b])) b = s;
            }
            best[j] = b;
            unsigned char bytes[4];
            putchar('\t');
            put_symbol(stdout, bytes, (size_t)rnn_symbol_bytes(v, b, bytes));
            printf("\t%.4f", p[b]);
        }
        putchar('\n');
    }
    free(best);
}

/* The text with every blank replaced by its fill: the other bytes exactly as they came. */
static void print_filled(const rnn_vocab *v, const unsigned char *text, const int32_t *ids,
                         const size_t *ends, const unsigned char *blank, size_t nsym) {
    for (size_t i = 0, start = 0; i < nsym; start = ends[i++]) {
        unsigned char b[4];
        if (blank[i]) fwrite(b, 1, (size_t)rnn_symbol_bytes(v, ids[i], b), stdout);
        else fwrite(text + start, 1, ends[i] - start, stdout);
    }
}

typedef struct {
    const char *model, *blank, *text;
    int top, passes, threads, precision;
    draw_args d;
    command c;   /* the table, in cmd_fill's frame */
} fill_args;

/* Fills the blanks of text[0..len) with model m and prints the result (or the --top lines); a forward model
 * is said to fill from the left context only (on stderr). 0, or 1 (reported). */
static int fill_text(const rnn_model *m, const fill_args *a, const unsigned char *text, size_t len) {
    const rnn_vocab *v = rnn_model_vocab(m);
    size_t blen = strlen(a->blank), nb = 0, unknown = 0;
    int32_t *ids = malloc(sizeof(int32_t) * (len ? len : 1));
    size_t *ends = malloc(sizeof(size_t) * (len ? len : 1));
    unsigned char *blank = malloc(len ? len : 1);
    float *probs = NULL;
    int rc = 1;
    if (!ids || !ends || !blank) { fail("out of memory"); goto out; }
    size_t nsym = rnn_decode(v, text, len, ids, ends);
    for (size_t i = 0, start = 0; i < nsym; start = ends[i++]) {
        blank[i] = ends[i] - start == blen && !memcmp(text + start, a->blank, blen);
        nb += blank[i];
        unknown += !blank[i] && ids[i] < 0;
    }
    if (!nb) {
        fail("no blank '%s' in the text (choose the blank character with --mask)", a->blank);
        goto out;
    }
    if (!rnn_model_config(m)->bidir)
        say("charrnn: '%s' is a forward model: blanks are filled from the left context only",
                a->model);
    if (unknown)
        say("charrnn: warning: %zu symbol%s of the text %s not in the model's vocabulary: read as no "
                "input, printed unchanged",
                unknown, unknown == 1 ? "" : "s", unknown == 1 ? "is" : "are");
    if (a->top && !(probs = malloc(sizeof(float) * nb * (size_t)v->size))) {
        fail("out of memory");
        goto out;
    }
    rnn_err err;
    rnn_fill_opts o = {.passes = a->passes, .temperature = (float)a->d.temp, .top_k = a->d.top_k,
                       .top_p = (float)a->d.top_p, .seed = a->d.seed};
    if (rnn_fill(m, ids, blank, nsym, &o, a->threads, probs, NULL, err)) { fail("%s", err); goto out; }
    if (a->top) print_top(v, probs, blank, nsym, a->top);
    else print_filled(v, text, ids, ends, blank, nsym);
    rc = 0;
out:
    free(ids);
    free(ends);
    free(blank);
    free(probs);
    return rc;
}

/* The checks of fill's parsed options that need no model: --top-k, --top-p and --seed only with a temperature
 * above 0 (fill takes the likeliest symbol unless -t says otherwise). 0 or 2 (usage error, reported). */
static int fill_check(fill_args *a, int npos) {
    const command *c = &a->c;
    if (a->text && npos) return usage_error(c, "give either --text or a FILE, not both");
    static const char *const drawing[] = {"top-k", "top-p", "seed"};
    for (int i = 0; i < 3; i++)
        if (a->d.temp == 0 && opt_seen(c, drawing[i]))
            return usage_error(c, "--%s needs -t/--temperature above 0 (fill takes the likeliest symbol by "
                               "default)", drawing[i]);
    draw_seed(&a->d, c);
    return 0;
}

/* The model (with --precision), the blank checked against its vocabulary, the text from --text or `path`,
 * filled. Returns the exit code. */
static int fill_run(fill_args *a, const char *path) {
    rnn_err err;
    rnn_model *m;
    if (default_model_missing(a->model)) return 1;
    if (rnn_load(a->model, &m, NULL, err)) return fail("%s", err);
    if (opt_seen(&a->c, "precision") && rnn_model_set_precision(m, a->precision, err)) {
        rnn_model_free(m);
        return fail("%s", err);
    }
    int32_t one[5];
    size_t blen = strlen(a->blank);
    if (!blen || blen > 4 ||
        rnn_decode(rnn_model_vocab(m), (const unsigned char *)a->blank, blen, one, NULL) != 1) {
        rnn_model_free(m);
        return usage_error(&a->c, "%s must be one character",
                           opt_seen(&a->c, "blank") ? "--blank" : "--mask");
    }
    unsigned char *text = NULL;
    size_t len = 0;
    int r;
    if (a->text) r = fill_text(m, a, (const unsigned char *)a->text, strlen(a->text));
    else if (!(r = read_all(path, &text, &len))) r = fill_text(m, a, text, len);
    free(text);
    rnn_model_free(m);
    return r;
}

/* `charrnn fill`: the defaults and the option table (in this frame for the whole run), parse, check, run. */
int cmd_fill(int argc, char **argv) {
    fill_args a = {.model = DEFAULT_MODEL, .blank = "_", .passes = 4, .threads = online_cpus(),
                   .d = {.temp = 0, .top_p = 1.0}};
    opt opts[] = {
        OPT_STR("model", 'm', &a.model, "FILE",
                "checkpoint to fill with (default {default}): bidirectional, both "
                "sides; forward, the left side only"),
        OPT_STR("mask", 0, &a.blank, "C",
                "the character that marks a blank (default {default}); one that the text also uses needs "
                "another"),
        OPT_STR("blank", 0, &a.blank, "C", "the same as --mask (its former name)"),
        OPT_STR("text", 0, &a.text, "TEXT", "fill TEXT instead of reading FILE or standard input"),
        OPT_INT("top", 0, &a.top, 1, 1000, "N",
                "instead of the text: per blank a line of its position and N "
                "likeliest symbols with probabilities"),
        OPT_INT("passes", 0, &a.passes, 1, 1000, "N",
                "bidirectional, several blanks: at most N passes (drawing, "
                "-t > 0: exactly N), each re-filling every blank given the others (default {default})"),
        DRAW_ROWS(&a.d),
        SEED_ROW(&a.d, "fills"),
        RUN_ROWS(&a.precision, &a.threads, "the result does"),
    };
    a.c = COMMAND("fill", "[options] [FILE]",
                  "Replace every blank (_) of a text by its likeliest symbol (with -t, a drawn one) given "
                  "both sides (a bidirectional model) or the left side (a forward model); the text comes "
                  "from --text, FILE, or standard input ('-' or no FILE).",
                  opts);
    const char *pos[1];
    int npos, r = parse_args(&a.c, argc, argv, pos, 1, &npos);
    if (!r) r = fill_check(&a, npos);
    if (r || cli_args_only) return r < 0 ? 0 : r;
    return fill_run(&a, npos ? pos[0] : "-");
}
