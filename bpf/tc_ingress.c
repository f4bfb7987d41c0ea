/* tc ingress (clsact) on the pod's own interface: replies from a backend to a connection the
 * egress program balanced get the Service's address back (reverse NAT), so the pod's socket
 * sees VIP:port as its peer. Everything else passes untouched. */
#include "lib/packet.h"
#include "lib/maps.h"

int fip_tc_ingress(struct __sk_buff *skb)
{
    struct fip_pkt p;
    struct ct_key rk = {};
    struct ct_val *ct;
    struct revnat_val *rev;
    __u32 id;

    if (fip_parse(skb, &p) < 0)
        return TC_ACT_OK;
    rk.src = p.src;
    rk.dst = p.dst;
    rk.sport = p.sport;
    rk.dport = p.dport;
    rk.proto = p.proto;
    rk.dir = CT_REPLY;
    ct = fip_ct.lookup(&rk);
    if (!ct || (ct->flags & CT_F_HAIRPIN))
        return TC_ACT_OK;
    id = ct->id;
    rev = fip_revnat.lookup(&id);
    if (!rev)
        return TC_ACT_OK;
    if (fip_rewrite(skb, &p, IP_SRC_OFF, p.src, rev->vip, 0, p.sport, rev->port) < 0)
        return TC_ACT_SHOT;
    fip_count(ST_REVNAT);
    return TC_ACT_OK;
}
