/* tc egress (clsact) on the pod's own interface, inside the pod's network namespace.
 *
 * A packet to a Service frontend (VIP, port, protocol) is DNATed to a backend: the connection's
 * conntrack entry when it has one (an established connection keeps its backend), else a backend
 * chosen now (affinity or random slot), recorded in both directions. The frame still carries the
 * gateway's MAC (routing happened before tc), so it leaves through bpf_redirect_neigh, which lets
 * the kernel resolve the backend's (or its next hop's) MAC.
 *
 * A pod reaching itself through its Service would see a packet with its own address as source
 * and destination, which Linux drops as martian: the source becomes FIP_HAIRPIN_IP and the
 * packet is looped into our own ingress; the server's reply (to FIP_HAIRPIN_IP, leaving through
 * the default route) is turned back into VIP -> pod here and looped in as well.
 *
 * Settings (-D): FIP_HAIRPIN_IP (network-order u32), FIP_UDP_CT_NS (an idle UDP flow older
 * than this is balanced anew), FIP_NO_REDIRECT_NEIGH (leave the MAC alone; for tests).
 */
#include "lib/packet.h"
#include "lib/maps.h"
#include "lib/lb.h"

#ifndef FIP_HAIRPIN_IP
#define FIP_HAIRPIN_IP 0x012aa8a9 /* 169.254.42.1 */
#endif
#ifndef FIP_UDP_CT_NS
#define FIP_UDP_CT_NS 30000000000ULL
#endif

static __always_inline int fip_hairpin_reply(struct __sk_buff *skb, struct fip_pkt *p)
{
    struct ct_key rk = {.src = p->src, .dst = p->dst, .sport = p->sport, .dport = p->dport,
                        .proto = p->proto, .dir = CT_REPLY};
    struct ct_val *ct = fip_ct.lookup(&rk);
    struct revnat_val *rev;
    __u32 id;
    __be32 client;
    __be16 cport;

    if (!ct || !(ct->flags & CT_F_HAIRPIN))
        return TC_ACT_OK;
    id = ct->id;
    client = ct->ip;
    cport = ct->port;
    rev = fip_revnat.lookup(&id);
    if (!rev)
        return TC_ACT_OK;
    /* backend(pod):bport -> hairpin:cport  becomes  VIP:vport -> pod:cport */
    if (fip_rewrite(skb, p, IP_SRC_OFF, p->src, rev->vip, 0, p->sport, rev->port) < 0)
        return TC_ACT_SHOT;
    if (fip_rewrite(skb, p, IP_DST_OFF, p->dst, client, 2, p->dport, cport) < 0)
        return TC_ACT_SHOT;
    if (fip_mac_to_self(skb) < 0)
        return TC_ACT_SHOT;
    fip_count(ST_REVNAT);
    return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

int fip_tc_egress(struct __sk_buff *skb)
{
    struct fip_pkt p;
    struct svc_key sk = {};
    struct svc_val *svc;
    struct ct_key ck = {};
    struct ct_val *ct;
    struct be_val *be;
    __u64 now;
    __be32 bip, saddr;
    __be16 bport;
    __u8 hairpin;

    if (fip_parse(skb, &p) < 0)
        return TC_ACT_OK;
    if (p.dst == FIP_HAIRPIN_IP)
        return fip_hairpin_reply(skb, &p);
    sk.vip = p.dst;
    sk.port = p.dport;
    sk.proto = p.proto;
    svc = fip_services.lookup(&sk);
    if (!svc)
        return TC_ACT_OK;

    now = bpf_ktime_get_ns();
    ck.src = p.src;
    ck.dst = p.dst;
    ck.sport = p.sport;
    ck.dport = p.dport;
    ck.proto = p.proto;
    ck.dir = CT_ORIG;
    ct = fip_ct.lookup(&ck);
    if (ct && ct->id == svc->id && !p.syn &&
        (p.proto == IPPROTO_TCP || now - ct->seen < FIP_UDP_CT_NS)) {
        bip = ct->ip;
        bport = ct->port;
        hairpin = ct->flags & CT_F_HAIRPIN;
        if (p.proto == IPPROTO_UDP)
            ct->seen = now; /* TCP entries need no clock: a SYN always balances anew */
        fip_count(ST_NAT_EST);
    } else {
        struct ct_val orig = {}, reply = {};
        struct ct_key rk = {};

        be = fip_pick(svc, p.src, now);
        if (!be) {
            fip_count(ST_NO_BACKEND);
            return TC_ACT_SHOT;
        }
        bip = be->ip;
        bport = be->port;
        hairpin = bip == p.src ? CT_F_HAIRPIN : 0;
        orig.ip = bip;
        orig.port = bport;
        orig.flags = hairpin;
        orig.id = svc->id;
        orig.seen = now;
        reply.ip = p.src;
        reply.port = p.sport;
        reply.flags = hairpin;
        reply.id = svc->id;
        reply.seen = now;
        rk.src = bip;
        rk.dst = hairpin ? FIP_HAIRPIN_IP : p.src;
        rk.sport = bport;
        rk.dport = p.sport;
        rk.proto = p.proto;
        rk.dir = CT_REPLY;
        fip_ct.update(&rk, &reply);
        fip_ct.update(&ck, &orig);
        fip_count(ST_NAT_NEW);
    }

    saddr = p.src;
    if (fip_rewrite(skb, &p, IP_DST_OFF, p.dst, bip, 2, p.dport, bport) < 0)
        return TC_ACT_SHOT;
    if (hairpin) {
        if (fip_rewrite(skb, &p, IP_SRC_OFF, saddr, FIP_HAIRPIN_IP, 0, p.sport, p.sport) < 0)
            return TC_ACT_SHOT;
        if (fip_mac_to_self(skb) < 0)
            return TC_ACT_SHOT;
        fip_count(ST_HAIRPIN);
        return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
    }
#ifdef FIP_NO_REDIRECT_NEIGH
    return TC_ACT_OK;
#else
    return fip_redirect_neigh(skb->ifindex, NULL, 0, 0);
#endif
}
