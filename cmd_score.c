/* cmd_score.c — `charrnn score`: how likely a trained model finds a text. One row per file (or per line with
 * --lines, or per symbol with --per-char) on standard output, tab-separated; the columns and number formats
 * are documented in docs/commands.md ("score"). The scoring itself is the library's (rnn_score_streams,
 * rnn_gen.c); this file reads the files, cuts them into streams (a whole file, or its lines) and prints the
 * table.
 * Must not know: the library's internals (it includes rnn.h only). */
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

typedef struct {
    const char *model;
    int lines, per_char, header, batch, threads, precision, precision_seen;
    const char **files;   /* (nfiles) "-" = standard input; no file given = one "-" */
    int nfiles;
    const char **owned;   /* the array to free (NULL when files is the static "-") */
} score_args;

/* What a row sums: the surprisal of its scored symbols, how many were scored and how many were unknown. */
typedef struct { double nats; size_t chars, unknown; } tally;

/* Parses score's argv (after "score") into *a; a->files points into argv or at a static "-". 0, 2 (usage
 * error, reported) or -1 (--help printed). After 0 the caller frees a->owned. */
static int score_parse(score_args *a, int argc, char **argv) {
    static const char *dash[1] = {"-"};
    *a = (score_args){.model = DEFAULT_MODEL, .batch = 64, .threads = online_cpus()};
    opt opts[] = {
        OPT_STR("model", 'm', &a->model, "FILE",
                "checkpoint to score with (default {default}); a bidirectional one gives cloze losses"),
        OPT_FLAG("lines", 0, &a->lines,
                 "one row per input line (each line scored on its own, from the zero state)"),
        OPT_FLAG("per-char", 0, &a->per_char,
                 "one row per symbol: position, symbol, surprisal in bits, file"),
        OPT_FLAG("header", 0, &a->header, "print a header line naming the columns first"),
        OPT_INT("batch", 0, &a->batch, 1, 4096, "B",
                "lines scored at once with --lines (default {default}); the scores do not depend on it"),
        RUN_ROWS(&a->precision, &a->threads, "the scores do"),
    };
    command c = COMMAND("score", "[options] [FILE...]",
                        "Score text with a trained checkpoint: bits per character of each FILE ('-' or none: "
                        "standard input).", opts);
    const char **pos = malloc(sizeof(char *) * (argc > 0 ? (size_t)argc : 1));
    if (!pos) return fail("out of memory");
    int npos, r = parse_args(&c, argc, argv, pos, argc, &npos);
    if (!r && a->lines && a->per_char) r = usage_error(&c, "--lines and --per-char cannot be combined");
    a->precision_seen = opt_seen(&c, "precision");
    if (r || !npos) {
        free(pos);
        pos = NULL;
    }
    a->files = pos ? pos : dash;
    a->nfiles = pos ? npos : 1;
    a->owned = pos;
    return r;
}

/* One summary row: bits_per_char, nats_per_char, perplexity (4 decimals; '-' when nothing was scored), chars,
 * unknown, then the name (printed by the caller's format). */
static void print_tally(const tally *t) {
    if (t->chars) {
        double m = t->nats / (double)t->chars;
        printf("%.4f\t%.4f\t%.4f\t", m / log(2.0), m, exp(m));
    } else {
        fputs("-\t-\t-\t", stdout);
    }
    printf("%zu\t%zu\t", t->chars, t->unknown);
}

/* Cuts n symbols into streams: the whole text (one stream, empty if n = 0), or with lines each line with its
 * newline (a last line without one too; no line at all if n = 0). Fills start[0..count] (room for n + 2) and
 * returns count. ends[] are the symbols' byte ends. */
static size_t cut_streams(const unsigned char *text, const size_t *ends, size_t n, int lines, size_t *start) {
    size_t count = 0;
    start[0] = 0;
    if (!lines) {
        start[1] = n;
        return 1;
    }
    for (size_t k = 0; k < n; k++) {
        size_t b0 = k ? ends[k - 1] : 0;
        if ((ends[k] - b0 == 1 && text[b0] == '\n') || k + 1 == n) start[++count] = k + 1;
    }
    return count;
}

/* Scores one file's text and prints its rows; adds its sums to *total. 0, or 1 (reported). */
static int score_text(rnn_scorer *sc, const rnn_vocab *v, const score_args *a, const char *name,
                      const unsigned char *text, size_t len, tally *total) {
    int32_t *ids = malloc(sizeof(int32_t) * (len ? len : 1));
    size_t *ends = malloc(sizeof(size_t) * (len ? len : 1)), *start = malloc(sizeof(size_t) * (len + 2));
    double *nats = malloc(sizeof(double) * (len ? len : 1));
    rnn_err err;
    int rc = 0;
    if (!ids || !ends || !start || !nats) {
        rc = fail("%s: out of memory", name);
        goto done;
    }
    size_t n = rnn_decode(v, text, len, ids, ends), count = cut_streams(text, ends, n, a->lines, start);
    if (rnn_score_streams(sc, ids, start, count, nats, err)) {
        rc = fail("%s: %s", name, err);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        tally t = {0, 0, 0};
        for (size_t k = start[i]; k < start[i + 1]; k++) {
            if (ids[k] < 0) t.unknown++;
            else { t.nats += nats[k]; t.chars++; }
            if (a->per_char) {
                size_t b0 = k ? ends[k - 1] : 0;
                printf("%zu\t", k + 1);
                put_symbol(stdout, text + b0, ends[k] - b0);
                if (ids[k] < 0) printf("\t-\t%s\n", name);
                else printf("\t%.4f\t%s\n", nats[k] / log(2.0), name);
            }
        }
        if (!a->per_char) {
            print_tally(&t);
            if (!a->lines) printf("%s\n", name);
            else if (a->nfiles == 1) printf("%zu\n", i + 1);
            else printf("%s:%zu\n", name, i + 1);
        }
        total->nats += t.nats;
        total->chars += t.chars;
        total->unknown += t.unknown;
    }
done:
    free(ids); free(ends); free(start); free(nats);
    return rc;
}

int cmd_score(int argc, char **argv) {
    score_args a;
    int r = score_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    if (cli_args_only) { free(a.owned); return 0; }
    rnn_err err;
    rnn_model *m;
    if (default_model_missing(a.model)) {
        free(a.owned);
        return 1;
    }
    if (rnn_load(a.model, &m, NULL, err) ||
        (a.precision_seen && rnn_model_set_precision(m, a.precision, err))) {
        rnn_model_free(m);
        free(a.owned);
        return fail("%s", err);
    }
    rnn_scorer *sc = rnn_scorer_new(m, a.batch, a.threads, err);
    if (!sc) {
        rnn_model_free(m);
        free(a.owned);
        return fail("%s", err);
    }
    if (rnn_model_config(m)->bidir)
        say("charrnn: '%s' is a bidirectional model: these are cloze losses (each symbol given both "
                "sides), not a likelihood of the text",
                a.model);
    if (a.header)
        puts(a.per_char ? "position\tsymbol\tbits\tname"
                        : "bits_per_char\tnats_per_char\tperplexity\tchars\tunknown\tname");
    int rc = 0;
    tally total = {0, 0, 0};
    for (int i = 0; i < a.nfiles; i++) {
        unsigned char *text;
        size_t len;
        /* reported; the other files still count */
        if (read_all(a.files[i], &text, &len)) { rc = 1; continue; }
        if (score_text(sc, rnn_model_vocab(m), &a, a.files[i], text, len, &total)) rc = 1;
        free(text);
    }
    if (a.nfiles > 1 && !a.per_char) {
        print_tally(&total);
        puts("total");
    }
    rnn_scorer_free(sc);
    rnn_model_free(m);
    free(a.owned);
    return rc;
}
