/* cli.h — the generic part of the command line: the option tables every subcommand declares, their parser and
 * --help printer, and the two ways of reporting (an error line, a usage error). No main() and no subcommand
 * lives here, so a fuzz target can link cli.c alone and feed parse_args any argv.
 * Must not know: any subcommand, the library (rnn.h). */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>

/* Each command's options are one table (an array of opt rows, written with the OPT_* macros below): the
 * parser reads it, --help, the man page and the completion print it, and train derives its --resume rules
 * from it, so none of them can drift (plot, in cmd_plot.c, takes only a file name). */
typedef enum { O_INT, O_U64, O_FLOAT, O_STR, O_FLAG, O_CHOICE, O_LIST } opt_kind;

/* O_LIST: a string option that may be given several times; each value is appended (at most OPT_LIST_MAX). */
#define OPT_LIST_MAX 64
typedef struct { const char *v[OPT_LIST_MAX]; int n; } opt_list;

/* What `train --resume` may do with an option (the other commands leave it R_FIXED). */
typedef enum {
    R_FIXED = 0,   /* the checkpoint fixes it: giving it with --resume is a usage error */
    R_CHANGE,      /* may be given with --resume; the checkpoint keeps it (the budget, lr), or the resume hint
                    * writes it itself (-o, --resume): the hint does not repeat it */
    R_REPEAT       /* may be given with --resume; the checkpoint does not keep it: the resume hint repeats
                    * it */
} opt_resume;

typedef struct {
    const char *name;       /* long name without "--" */
    char shrt;              /* short letter or 0 */
    opt_kind kind;
    void *dst;              /* int*, uint64_t*, double*, const char**, int* (flag, choice index), opt_list* */
    double min, max;        /* accepted range for numbers (inclusive; see min_open) */
    int min_open;           /* 1: min itself is not accepted */
    const char *const *choices;   /* O_CHOICE: NULL-terminated */
    const char *arg;        /* placeholder in --help */
    /* help: "{default}" in it is replaced by the default, "{choices}" by the choices, the default one marked
     * " (default)" (unless `computed` is set). computed: the default as text where no value holds it (one per
     * CPU, sized to the corpus, from the clock); NULL: the value in *dst when parsing starts. */
    const char *help;
    const char *computed;
    opt_resume resume;
    int seen;               /* set by the parser when given */
    union { int i; uint64_t u; double d; const char *s; } def;   /* *dst when parsing started (parse_args) */
} opt;

/* The rows of a table, one macro per kind: name (without "--"), short letter or 0, where the value goes, for
 * numbers the accepted range, the placeholder, then the help text, optionally followed by further fields
 * (.computed = "...", .resume = R_...). A value's default is what *dst holds when parse_args starts. */
#define OPT_INT(nm, sh, p, lo, hi, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_INT, .dst = (p), .min = (lo), .max = (hi), .arg = (a), \
     .help = __VA_ARGS__}
#define OPT_U64(nm, sh, p, lo, hi, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_U64, .dst = (p), .min = (lo), .max = (hi), .arg = (a), \
     .help = __VA_ARGS__}
/* A seed: any 64-bit value. */
#define OPT_SEED(nm, p, ...) OPT_U64(nm, 0, p, 0, 18446744073709551615.0, "N", __VA_ARGS__)
#define OPT_FLOAT(nm, sh, p, lo, hi, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_FLOAT, .dst = (p), .min = (lo), .max = (hi), .arg = (a), \
     .help = __VA_ARGS__}
/* A real number above lo (lo itself not accepted), up to hi. */
#define OPT_FLOAT_ABOVE(nm, sh, p, lo, hi, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_FLOAT, .dst = (p), .min = (lo), .max = (hi), .min_open = 1, \
     .arg = (a), .help = __VA_ARGS__}
#define OPT_STR(nm, sh, p, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_STR, .dst = (p), .arg = (a), .help = __VA_ARGS__}
#define OPT_LIST(nm, sh, p, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_LIST, .dst = (p), .arg = (a), .help = __VA_ARGS__}
#define OPT_FLAG(nm, sh, p, ...) {.name = (nm), .shrt = (sh), .kind = O_FLAG, .dst = (p), .help = __VA_ARGS__}
#define OPT_CHOICE(nm, sh, p, names, a, ...) \
    {.name = (nm), .shrt = (sh), .kind = O_CHOICE, .dst = (p), .choices = (names), .arg = (a), \
     .help = __VA_ARGS__}

typedef struct {
    const char *name, *usage, *summary;
    opt *opts;
    int nopts;
} command;

/* The command `nm` on the table `table` (an array, counted by its own initialiser). */
#define COMMAND(nm, usage, summary, table) \
    ((command){(nm), (usage), (summary), (table), (int)(sizeof(table) / sizeof(table)[0])})

/* Set only by the fuzz target tests/fuzz_opts.c: when non-zero, every subcommand returns its exit code right
 * after checking its arguments (0 if they are good), before it opens, reads or writes any file. */
extern int cli_args_only;

/* When set, parse_args gives c's table to this function instead of parsing and returns -1 (as after --help),
 * so running a command collects its table without running it: `charrnn --man` and `--completion` (doc.c) do
 * that. */
extern void (*cli_describe)(const command *c);

/* One message line on stderr: on a terminal wrapped at its spaces to the terminal's width (out.h's
 * print_wrapped: continuation lines indented by 2, `whole` (NULL: none) the shell command at its end that is
 * never split), elsewhere written as it is. Every message line of the commands goes through it (or say). */
void say_line(const char *s, const char *whole);
/* say_line of a printf format. */
void say(const char *fmt, ...);
/* One error line, "charrnn: ...", on stderr (say_line); returns 1, the exit code for the caller to return. */
int fail(const char *fmt, ...);
/* Put after "charrnn: " in fail()'s lines ("" by default; "rank 2: " in a run of several processes). */
extern const char *cli_fail_prefix;
/* Whether c's option `name` was given. */
int opt_seen(const command *c, const char *name);
/* o's help text with "{default}" and "{choices}" filled in (see opt), in buf (n bytes). Returns buf. */
const char *opt_help(const opt *o, char *buf, size_t n);
/* c's --help on stdout, from its table. */
void print_help(const command *c);
/* "charrnn CMD: <message>" and "Try 'charrnn CMD --help'." on stderr; returns 2. */
int usage_error(const command *c, const char *fmt, ...);
/* A whole decimal number (optional sign, digits, nothing else) into *out. 0, -1 (not a whole number) or 1
 * (beyond 64 bits). */
int parse_whole(const char *s, long double *out);
/* A finite real number, all of s, into *out. 0 or -1. */
int parse_real(const char *s, double *out);
/* Checks and stores the value v of option o (shown as `shown`). 0 or 2 (usage error, reported). */
int set_value(const command *c, opt *o, const char *shown, const char *v);
/* The one of names[0..count) that s[0..n) most likely misspells, for a "did you mean" hint: the only name
 * that s is a proper prefix of, else the only name within 1 edit (2 when s has 6 bytes or more; a swap of two
 * neighbours is one edit). NULL if none, or if several are as close (an option name must match exactly:
 * prefixes are never accepted, only suggested). */
const char *closest_name(const char *s, size_t n, const char *const *names, int count);
/* Parses argv[0..argc) (after the subcommand name) against c's table. Positionals go to pos[] (up to maxpos).
 * Returns 0, 2 (usage error, reported) or -1 (--help was printed: exit 0). */
int parse_args(const command *c, int argc, char **argv, const char **pos, int maxpos, int *npos);

/* Reads a whole file ("-" = standard input) into a malloc'd buffer the caller frees. Returns 0, or 1 after
 * reporting "charrnn: cannot open|read NAME: reason" with fail(), NAME as input_name gives it. */
int read_all(const char *path, unsigned char **out, size_t *len);
/* How a message names the input file `path`: "standard input" for "-", else 'path' in single quotes (cut to
 * fit buf's n bytes). Returns buf. A file's name is always quoted, standard input never is. */
const char *input_name(const char *path, char *buf, size_t n);
/* The default --threads: one per online CPU, 1..256. */
int online_cpus(void);
/* The end of every command (main's single exit): if rc is 0 but standard output cannot be flushed, has had a
 * write error or cannot be closed, reports "charrnn: cannot write output: REASON" and returns 1; else rc. */
int finish_stdout(int rc);

#endif
