/* Links against an installed libdh: version check, an index round trip. */
#include <stdio.h>
#include <string.h>

#include <dh.h>

int main(void)
{
    if (dh_version() / 10000 != DH_VERSION_MAJOR) return 1;
    dh_index_options o;
    dh_index_options_init(&o);
    o.n_bits = 64;
    dh_index *ix = NULL;
    uint8_t codes[2][8];
    memset(codes, 0, sizeof codes);
    codes[1][0] = 0x0F;
    int32_t d[2];
    int64_t id[2];
    if (dh_index_create(&o, &ix) != DH_OK || dh_index_add(ix, &codes[0][0], 2) != DH_OK ||
        dh_index_search(ix, &codes[1][0], 1, 2, d, id) != DH_OK) {
        fprintf(stderr, "consumer: %s\n", dh_last_error());
        return 1;
    }
    dh_index_free(ix);
    printf("libdh %s: nearest id %lld (d=%d), next id %lld (d=%d)\n", dh_version_string(),
           (long long)id[0], d[0], (long long)id[1], d[1]);
    return (id[0] == 1 && d[0] == 0 && id[1] == 0 && d[1] == 4) ? 0 : 1;
}
