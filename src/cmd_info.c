/* src/cmd_info.c -- `dh info` (placeholder until its owner lands it). */
#include "cli.h"

int dh_cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dh info: not built yet\n");
    return DH_EXIT_FAIL;
}
