/* src/cmd_index.c -- `dh index` (placeholder until its owner lands it). */
#include "cli.h"

int dh_cmd_index(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dh index: not built yet\n");
    return DH_EXIT_FAIL;
}
