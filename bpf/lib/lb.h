/* Backend selection shared by the tc and the socket programs.
 *
 * A new connection to a frontend takes ClientIP affinity when the Service has it and the
 * remembered backend is still in the same slot and fresh; otherwise a random slot 1..count.
 * Returns NULL when the frontend has no backend (count 0) or a slot is missing mid-update.
 */
#ifndef FIP_LB_H
#define FIP_LB_H

#include "maps.h"

static __always_inline struct be_val *fip_pick(struct svc_val *svc, __u64 client, __u64 now)
{
    struct be_key bk = {.id = svc->id};
    struct be_val *be;

    if (svc->count == 0)
        return NULL;
    if (svc->affinity_timeout) {
        struct aff_key ak = {.id = svc->id, .client = client};
        struct aff_val *aff = fip_affinity.lookup(&ak);
        if (aff && now - aff->seen < (__u64)svc->affinity_timeout * 1000000000ULL) {
            bk.slot = aff->slot;
            be = fip_backends.lookup(&bk);
            if (be && be->ip == aff->ip && be->port == aff->port && aff->slot <= svc->count) {
                aff->seen = now;
                fip_count(ST_AFFINITY_HIT);
                return be;
            }
        }
        bk.slot = bpf_get_prandom_u32() % svc->count + 1;
        be = fip_backends.lookup(&bk);
        if (be) {
            struct aff_val fresh = {.ip = be->ip, .port = be->port, .slot = bk.slot, .seen = now};
            fip_affinity.update(&ak, &fresh);
        }
        return be;
    }
    bk.slot = bpf_get_prandom_u32() % svc->count + 1;
    return fip_backends.lookup(&bk);
}

#endif
