/* lib/core/codelen.c -- the one code-length rule (dh.h, DH_MAX_BITS): every K in
 * 1..DH_MAX_BITS is valid for the model, heads, losses, the index, evaluation, files,
 * .npy codes, the bindings and the CLI. Packed codes are dh_code_bytes(K) bytes; the
 * 8 * dh_code_bytes(K) - K high bits of the last byte are padding and zero. */
#include "core/core.h"

dh_status dh__check_bits(uint64_t n_bits, const char *what)
{
    if (DH__LIKELY(dh__bits_valid(n_bits))) return DH_OK;
    return dh__set_error(DH_E_INVALID_ARG, "%s: n_bits %llu is outside 1..%u (DH_MAX_BITS)",
                         what ? what : "code length", (unsigned long long)n_bits,
                         (unsigned)DH_MAX_BITS);
}

size_t dh__code_find_padding(const uint8_t *codes, size_t n, uint32_t n_bits, int msb_first)
{
    uint8_t pad = (uint8_t)~dh__code_last_mask(n_bits);
    if (msb_first) pad = (uint8_t)(pad >> n_bits % 8); /* there: the low 8 - K % 8 bits */
    const size_t nb = dh_code_bytes(n_bits);
    if (pad == 0 || nb == 0) return n;
    for (size_t i = 0; i < n; i++)
        if (codes[i * nb + nb - 1] & pad) return i;
    return n;
}
