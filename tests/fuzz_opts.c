/* tests/fuzz_opts.c — fuzz target: the whole command line up to the point where a command would touch a file:
 * main()'s dispatch and every subcommand's option table and checks (cli.c's parse_args, set_value, the cmd_*.c
 * parsers and train_config, plot's argument check), with cli_args_only set so that nothing is opened, read,
 * trained or written. main.c is compiled into this file with main() renamed; the cmd_*.c files are linked as they
 * are (the Makefile links every CLI file but main.c), so the option tables are the real ones.
 * Input: byte 0 picks argv[1] from `commands` (the last choice: argv[1] is the first piece of the input); the rest,
 * split on NUL bytes, is the argument list (at most 64). Properties: no crash, leak or out-of-bounds read; the exit
 * code is 0, 1 or 2. Seeds: tests/fuzz/opts/. To cover a new subcommand, add its name to `commands`. */
#define main charrnn_main
int charrnn_main(int argc, char **argv);   /* main.c's main(), renamed: declared before its definition */
#include "../main.c"
#undef main

#include "fuzz.h"

static const char *const commands[] = {"train", "sample", "info", "plot", "score", "help", "--version", "fill"};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t n = size - 1;             /* bytes of argument text */
    char *buf = malloc(size);        /* the pieces, each NUL-terminated (the last one by buf[n]) */
    char *argv[68];
    if (!buf) return 0;
    memcpy(buf, data + 1, n);
    buf[n] = 0;
    int argc = 0;
    argv[argc++] = "charrnn";
    unsigned pick = data[0] % (NCOMMANDS + 1);
    if (pick < NCOMMANDS) argv[argc++] = (char *)commands[pick];
    for (size_t i = 0; i < n && argc < 66; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    cli_args_only = 1;
    int rc = charrnn_main(argc, argv);
    if (rc < 0 || rc > 2) fuzz_fail("exit code %d", rc);
    free(buf);
    return 0;
}
