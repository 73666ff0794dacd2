/* lib/core/alloc_budget.h -- allocation budgets for loaders and the allocator's test
 * hooks (lib/core/alloc.c). */
#ifndef DH_CORE_ALLOC_BUDGET_H
#define DH_CORE_ALLOC_BUDGET_H

#include "core/core.h"

/** A per-thread allocation budget: between begin and end, allocations made on this
 *  thread that would take its total past `limit` bytes fail (NULL, DH_E_NO_MEMORY)
 *  and set `hit`. Loaders use it to refuse files whose metadata asks for far more
 *  memory than the file's contents justify. Budgets nest (the innermost counts). */
typedef struct dh__alloc_budget {
    size_t limit, used;
    int hit;
    struct dh__alloc_budget *prev;
} dh__alloc_budget;
void dh__alloc_budget_begin(dh__alloc_budget *b, size_t limit);
void dh__alloc_budget_end(dh__alloc_budget *b);
/** Test hooks (process-wide, for the allocation-failure sweep and the resource tests):
 *  fail_at = N > 0 makes the Nth allocation from now fail (once), 0 disarms; the
 *  counters count calls and requested bytes since the last dh__alloc_test_arm. */
void dh__alloc_test_arm(long fail_at);
long dh__alloc_test_calls(void);
size_t dh__alloc_test_bytes(void);
int dh__alloc_test_failed(void); /* the armed failure happened */

#endif
