/* room_version.c: the stored room state version each state write follows, and learning it
 * back from a refusal (see room_version.h). */
#include "domain/room_version.h"

#include "store/store.h"
#include "util/mem.h"

void room_version_init(room_version_t *rv, int64_t stored)
{
    rv->written = stored;
    rv->epoch = 0;
}

void room_version_write(room_version_t *rv, int64_t v, int64_t *base, uint32_t *epoch)
{
    CH_ASSERT(v > rv->written);
    *base = rv->written;
    rv->written = v;
    *epoch = rv->epoch;
}

int room_version_answer(room_version_t *rv, int64_t *current, uint32_t epoch, int64_t base,
                        int err, int64_t stored)
{
    if (err != STORE_EEXISTS || stored == base) return ROOM_VERSION_DONE;
    /* Only the first refusal of an epoch teaches: the writes handed over after it chained
     * on versions the store did not take, and their refusals come later (in order) with
     * an older epoch, while writes of the new epoch may already be on their way. */
    if (epoch == rv->epoch) {
        rv->epoch++;
        rv->written = stored;
        if (stored > *current) *current = stored;
    }
    return ROOM_VERSION_AGAIN;
}
