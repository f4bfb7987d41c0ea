/* Socket-mode translation shared by connect4 and sendmsg4: rewrite the destination a fip pod's
 * socket asked for (a Service frontend) into a backend before any packet exists, so nothing per
 * packet is needed and the pod's interface type does not matter. Only sockets of network
 * namespaces listed in fip_pods (by netns cookie) are touched; the programs hang on a cgroup
 * that may hold other processes too.
 */
#ifndef FIP_SOCK_H
#define FIP_SOCK_H

#include <uapi/linux/bpf.h>
#include <uapi/linux/in.h>
#include "maps.h"
#include "lb.h"

/* 1 = leave the call alone or translated; 0 = refuse it (EPERM: the Service has no backend) */
static __always_inline int fip_sock_xlate(struct bpf_sock_addr *ctx, __u8 proto, __u32 stat)
{
    __u64 netns = bpf_get_netns_cookie(ctx);
    struct svc_key sk = {};
    struct svc_val *svc;
    struct be_val *be;

    if (!fip_pods.lookup(&netns))
        return 1;
    sk.vip = ctx->user_ip4;
    sk.port = (__be16)ctx->user_port;
    sk.proto = proto;
    svc = fip_services.lookup(&sk);
    if (!svc)
        return 1;
    be = fip_pick(svc, netns, bpf_ktime_get_ns());
    if (!be) {
        fip_count(ST_NO_BACKEND);
        return 0;
    }
    {
        /* for recvmsg4 (UDP) and getpeername4: what this socket really talks to -> the VIP */
        struct sockrev_key rk = {.cookie = bpf_get_socket_cookie(ctx), .ip = be->ip, .port = be->port};
        struct revnat_val rev = {.vip = sk.vip, .port = sk.port};
        fip_sockrev.update(&rk, &rev);
    }
    ctx->user_ip4 = be->ip;
    ctx->user_port = (__u32)be->port;
    fip_count(stat);
    return 1;
}

#endif
