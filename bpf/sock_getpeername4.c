/* cgroup/getpeername4: a socket that connect4 translated reports the Service's VIP:port as its
 * peer, as it would through kube-proxy or the tc programs (applications that log or check their
 * peer see what they dialled, not a backend). */
#include "lib/sock.h"

int fip_sock_getpeername4(struct bpf_sock_addr *ctx)
{
    struct sockrev_key rk = {};
    struct revnat_val *rev;

    rk.cookie = bpf_get_socket_cookie(ctx);
    rk.ip = ctx->user_ip4;
    rk.port = (__be16)ctx->user_port;
    rev = fip_sockrev.lookup(&rk);
    if (!rev)
        return 1;
    ctx->user_ip4 = rev->vip;
    ctx->user_port = (__u32)rev->port;
    return 1;
}
