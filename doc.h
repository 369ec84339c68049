/* doc.h — the man page (charrnn.1) and the bash completion script, generated from the same option tables that
 * parse the options and print --help (cli.h), so neither can drift from the parser. `charrnn --man` and
 * `charrnn --completion bash` (main.c) run: X_begin, then every command with cli_describe = X_command (each
 * command's table arrives through parse_args), then X_end. Everything goes to stdout.
 * Must not know: the library, any particular command beyond what its table says. */
#ifndef DOC_H
#define DOC_H

#include "cli.h"

/* The man page: the header, NAME, SYNOPSIS and DESCRIPTION, then a COMMANDS section filled by man_command. */
void man_begin(const char *version);
void man_command(const command *c);
/* The fixed sections: option syntax, exit status, environment, files, examples, checkpoint format, see
 * also. */
void man_end(void);

/* The bash completion script; names[0..n) are the commands (for the first word and `charrnn help CMD`). */
void bash_begin(const char *const *names, int n);
void bash_command(const command *c);
void bash_end(void);

#endif
