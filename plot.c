/* plot.c — `charrnn plot LOG`: training and validation loss curves from a --log CSV, as SVG on stdout. */
#include <stdio.h>
int cmd_plot(int argc, char **argv);
int cmd_plot(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "charrnn: plot: not implemented yet\n");
    return 1;
}
