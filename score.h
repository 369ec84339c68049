/* score.h — `charrnn score`: bits per character of files, lines or symbols under a trained model. */
#ifndef SCORE_H
#define SCORE_H

/* `charrnn score [options] [FILE...]`: argv after the subcommand name. Returns the exit code (0, 1 error — a
 * checkpoint or a file that cannot be read; the other files are still scored —, 2 usage error). */
int cmd_score(int argc, char **argv);

#endif
