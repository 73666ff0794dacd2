/* src/cmd_index_usage.c -- the usage texts of `dh index` and its subcommands (the
 * command is cmd_index.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage_sub(FILE *fp, const char *sub)
{
    if (!strcmp(sub, "build"))
        fprintf(fp, "usage: dh index build -o OUT.dhi [--bits K] [--ids IDS.npy] [--mih[=M]] "
                    "CODES...\n"
                    "  Create an index from code files (ids 0, 1, ... unless --ids).\n"
                    "  --mih[=M]       also build multi-index hashing tables (M tables, or\n"
                    "                  'auto' = K / log2 n, the default), saved in the file;\n"
                    "                  searches stay exact, faster for small k and radius\n"
                    "  --bits K        code length, 1..4096; needed for raw files and for packed\n"
                    "                  .npy codes whose K is not 8 x columns, else taken from\n"
                    "                  the first .npy\n");
    else if (!strcmp(sub, "add"))
        fprintf(fp, "usage: dh index add INDEX.dhi [-o OUT.dhi] [--ids IDS.npy] CODES...\n"
                    "  Append codes (ids continue after the largest id unless --ids) and save\n"
                    "  atomically over INDEX.dhi (or to OUT.dhi).\n");
    else if (!strcmp(sub, "remove"))
        fprintf(fp, "usage: dh index remove INDEX.dhi --ids ID[,ID...]|IDS.npy [-o OUT.dhi]"
                    " [--compact]\n"
                    "  Remove rows by id (other ids never change) and save atomically.\n"
                    "  --compact       drop the removed rows from the file now\n");
    else if (!strcmp(sub, "search"))
        fprintf(fp, "usage: dh index search INDEX.dhi --queries Q [-k K | --radius R] [--json]"
                    " [--mmap]\n"
                    "  k nearest codes (default k = 10) or all codes within Hamming distance R\n"
                    "  (inclusive) of every query; ties go to the code added first.\n"
                    "  Text output: one line 'query rank id distance' per result.\n"
                    "  --mmap          map the index read-only instead of reading it\n"
                    "  --search-mode M auto (default), scan or mih: how to use multi-index\n"
                    "                  tables (results are identical)\n"
                    "  Under mpirun, INDEX may name one shard per rank with %%d ('db-%%d.dhi')\n"
                    "  or be one file whose rows r::P rank r keeps; rank 0 prints exactly\n"
                    "  what the search of the whole index prints (docs/scale.md).\n");
    else if (!strcmp(sub, "split"))
        fprintf(fp, "usage: dh index split INDEX.dhi --shards N -o 'OUT-%%d.dhi'\n"
                    "  Write N shards of consecutive live rows (ids kept) for\n"
                    "  'mpirun -np N dh index search OUT-%%d.dhi' (docs/scale.md).\n");
    else if (!strcmp(sub, "info"))
        fprintf(fp, "usage: dh index info INDEX.dhi [--json]\n"
                    "  Code length, row counts and tombstones of an index file.\n");
    else if (!strcmp(sub, "export"))
        fprintf(fp, "usage: dh index export INDEX.dhi -o OUT.npy [--format F] [--ids-out IDS.npy]\n"
                    "  Write the live codes as a .npy file. F: float32 (default), float64,\n"
                    "  int8 (±1 rows), packed (uint8, LSB-first), packbits (numpy.packbits).\n"
                    "       dh index export INDEX.dhi --faiss -o OUT.bin [--idmap2]\n"
                    "  Write a FAISS binary index file (faiss.read_index_binary reads it):\n"
                    "  IndexBinaryFlat, or IndexBinaryIDMap2 when the ids are not 0..n-1.\n");
    else if (!strcmp(sub, "import"))
        fprintf(fp, "usage: dh index import --faiss FAISS.bin -o OUT.dhi\n"
                    "  Read a FAISS binary index file (IndexBinaryFlat or IndexBinaryIDMap/\n"
                    "  IDMap2 around one, as faiss.write_index_binary writes them) into a\n"
                    "  libdh index: same codes (both LSB-first), same ids.\n");
    fprintf(fp, "common options:\n"
                "  --bitorder big|little  bit order of uint8 .npy / raw files (default little:\n"
                "                  bit j = bit j%%8 of byte j/8; big = numpy.packbits)\n"
                "  --threads N     threads (default: all cores)\n"
                "  --isa NAME      force scalar, avx2, avx512bw or avx512vpopcnt kernels\n"
                "  -q, --quiet     no progress line (stderr)\n"
                "  -h, --help      this text\n"
                "  '-' as a file: stdin (one input) or stdout (-o -; reports then go to stderr)\n"
                "  --raw           files that are not .npy/.npz are raw packed codes (with --bits)\n"
                "code files: .npy ±1 rows (float32/float64/int8), bool rows, or packed uint8\n"
                "rows; a .npz archive with one array, or ARCHIVE.npz:NAME for one of several;\n"
                "anything else only with --raw (a raw file of packed codes, needs --bits).\n");
}

void dh_cli_index_usage(FILE *fp, const char *sub)
{
    if (sub) {
        usage_sub(fp, sub);
        return;
    }
    fprintf(fp, "usage: dh index <build|add|remove|search|info|export|import|split> [options]\n"
                "'dh index <subcommand> --help' (or 'dh help index <subcommand>') describes each.\n");
}
