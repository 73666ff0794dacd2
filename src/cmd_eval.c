/* src/cmd_eval.c -- `dh eval` (placeholder until its owner lands it). */
#include "cli.h"

int dh_cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dh eval: not built yet\n");
    return DH_EXIT_FAIL;
}
