/* cgroup/connect4: TCP and connected UDP sockets of fip pods reach a Service's backend directly
 * (see lib/sock.h). A Service without ready endpoints refuses the connect with EPERM. */
#include "lib/sock.h"

int fip_sock_connect4(struct bpf_sock_addr *ctx)
{
    if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
        return 1;
    return fip_sock_xlate(ctx, ctx->protocol, ST_SOCK_CONNECT);
}
