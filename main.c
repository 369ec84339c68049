/* main.c — the charrnn command line's entry: the version, the subcommand table (dispatch, the command list of
 * --help, `help CMD`, the man page and the completion), and main. Each command lives in its own cmd_NAME.c
 * (cmd.h); the option parser is cli.c.
 * Must not know: any command's options or work beyond its entry point; the library's internals (rnn.h only).
 *
 * Exit codes: 0 success, 1 error (one line on stderr), 2 usage error, 130/143 training stopped by
 * SIGINT/SIGTERM after saving. stdout carries only generated text (sample), the filled text (fill), the
 * report (info), the scores (score) or the SVG (plot); main checks it once (finish_stdout).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "cmd.h"
#include "doc.h"
#include "rnn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_STRING "charrnn 1.0"

/* ============================================================================================ main */
/* The commands: the dispatch, the command list of --help, `help CMD`, the man page and the completion all
 * read this table. */
typedef struct {
    const char *name, *args, *line;
    int (*run)(int argc, char **argv);
} subcommand;

static const subcommand subcommands[] = {
    {"train", "CORPUS", "learn from a text file and save a checkpoint (charrnn.ckpt)", cmd_train},
    {"sample", "", "generate text from a checkpoint to standard output", cmd_sample},
    {"info", "", "describe a checkpoint", cmd_info},
    {"score", "[FILE]", "how likely a checkpoint finds a text: bits per character of files or lines",
     cmd_score},
    {"fill", "[FILE]",
     "replace the blanks (_) of a text from both sides, or with a forward model from the left", cmd_fill},
    {"plot", "LOG", "draw a --log CSV's loss curves as SVG on standard output", cmd_plot},
};
enum { NSUB = sizeof subcommands / sizeof subcommands[0] };

static const subcommand *find_subcommand(const char *name) {
    for (int i = 0; i < NSUB; i++)
        if (!strcmp(subcommands[i].name, name)) return &subcommands[i];
    return NULL;
}

/* The subcommand `name` most likely misspells (closest_name), or NULL. */
static const char *near_subcommand(const char *name) {
    const char *names[NSUB];
    for (int i = 0; i < NSUB; i++) names[i] = subcommands[i].name;
    return closest_name(name, strlen(name), names, NSUB);
}

static void print_usage(FILE *f) {
    fprintf(f, "Usage: charrnn COMMAND [options]\n"
               "A character-level recurrent neural network: learn the style of a text file, then write "
               "more of it.\n\n"
               "Commands:\n");
    for (int i = 0; i < NSUB; i++) {
        char left[32];
        snprintf(left, sizeof left, "%s %s", subcommands[i].name, subcommands[i].args);
        fprintf(f, "  %-14s %s\n", left, subcommands[i].line);
    }
    fprintf(f, "\nOptions:\n"
               "  -h, --help     show this help and exit\n"
               "  -V, --version  print the version and exit\n");
    fprintf(f, "\nRun 'charrnn help COMMAND' or 'charrnn COMMAND --help' for a command's options. Exit "
               "status: 0 ok,\n"
               "1 error, 2 usage error, 130/143 training interrupted by SIGINT/SIGTERM (after saving).\n");
}

/* `charrnn help [CMD]`: the general help, or CMD's --help. Returns the exit code. */
static int cmd_help(int argc, char **argv) {
    if (argc == 0) {
        print_usage(stdout);
        return 0;
    }
    const subcommand *sc = find_subcommand(argv[0]);
    if (argc > 1 || !sc) {
        if (argc > 1) fprintf(stderr, "charrnn help: expected one COMMAND\n");
        else if (near_subcommand(argv[0]))
            fprintf(stderr, "charrnn help: unknown command '%s'; did you mean '%s'?\n", argv[0],
                    near_subcommand(argv[0]));
        else fprintf(stderr, "charrnn help: unknown command '%s'\n", argv[0]);
        fprintf(stderr, "Try 'charrnn --help'.\n");
        return 2;
    }
    char help[] = "--help", *hargv[] = {help, NULL};
    return sc->run(1, hargv);
}

/* `charrnn --man` (the man page) or `--completion bash`: every command's table through cli_describe. */
static int cmd_describe(int man) {
    const char *names[NSUB];
    for (int i = 0; i < NSUB; i++) names[i] = subcommands[i].name;
    if (man) man_begin(VERSION_STRING);
    else bash_begin(names, NSUB);
    cli_describe = man ? man_command : bash_command;
    for (int i = 0; i < NSUB; i++) subcommands[i].run(0, NULL);
    cli_describe = NULL;
    if (man) man_end();
    else bash_end();
    return 0;
}

/* A warning, naming the choices, for a CHARRNN_KERNEL value that the library does not know. */
static void check_kernel_env(void) {
    const char *k = getenv("CHARRNN_KERNEL");
    if (!k) return;
    const char *const *names = rnn_kernel_names();
    for (int i = 0; names[i]; i++)
        if (!strcmp(k, names[i])) return;
    fprintf(stderr, "charrnn: warning: unknown CHARRNN_KERNEL '%s' (choose one of:", k);
    for (int i = 0; names[i]; i++) fprintf(stderr, "%s %s", i ? "," : "", names[i]);
    fprintf(stderr, "); using generic\n");
}

/* Runs the command argv[1] names (or the general help, the version, the man page, the completion). Returns
 * the exit code; standard output is left to main. */
static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) return cmd_help(0, NULL);
    if (!strcmp(cmd, "help")) return cmd_help(argc - 2, argv + 2);
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        puts(VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "--man") && argc == 2) return cmd_describe(1);   /* hidden: make man */
    if (!strcmp(cmd, "--completion")) {   /* hidden: make install */
        if (argc == 3 && !strcmp(argv[2], "bash")) return cmd_describe(0);
        fprintf(stderr, "charrnn: --completion takes one shell: bash\n");
        return 2;
    }
    const subcommand *sc = find_subcommand(cmd);
    if (sc) {
        check_kernel_env();
        return sc->run(argc - 2, argv + 2);
    }
    const char *near = near_subcommand(cmd);
    if (near) {   /* one line and the way to the list, not the whole usage */
        fprintf(stderr, "charrnn: unknown command '%s'; did you mean '%s'?\nTry 'charrnn --help'.\n", cmd,
                near);
        return 2;
    }
    fprintf(stderr, "charrnn: unknown command '%s'\n", cmd);
    print_usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    cmd_argv0 = argv[0];
    return finish_stdout(dispatch(argc, argv));
}
