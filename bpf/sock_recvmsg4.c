/* cgroup/recvmsg4: a datagram from a backend that sendmsg4 translated for this socket is
 * reported as coming from the Service's VIP:port (what the pod sent to). */
#include "lib/sock.h"

int fip_sock_recvmsg4(struct bpf_sock_addr *ctx)
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
    fip_count(ST_SOCK_RECVMSG);
    return 1;
}
