/* cgroup/sendmsg4: unconnected UDP (sendto) from fip pods to a Service goes to a backend; the
 * backend's address is remembered per socket so recvmsg4 can show the VIP to the pod. */
#include "lib/sock.h"

int fip_sock_sendmsg4(struct bpf_sock_addr *ctx)
{
    return fip_sock_xlate(ctx, IPPROTO_UDP, ST_SOCK_SENDMSG);
}
