/* Packet parsing and address/port rewriting with checksum fixes, for the tc programs.
 *
 * Only IPv4 TCP and UDP are translated; anything else (and non-first fragments, which carry no
 * ports) passes untouched. Rewrites use bpf_l3/l4_csum_replace so CHECKSUM_PARTIAL and GSO
 * packets stay right; UDP uses BPF_F_MARK_MANGLED_0 so a zero (absent) checksum stays zero.
 */
#ifndef FIP_PACKET_H
#define FIP_PACKET_H

#include <uapi/linux/bpf.h>
#include <uapi/linux/if_ether.h>
#include <uapi/linux/in.h>
#include <uapi/linux/ip.h>
#include <uapi/linux/pkt_cls.h>

#define ETH_HLEN_ 14
#define IP_SRC_OFF (ETH_HLEN_ + offsetof(struct iphdr, saddr))
#define IP_DST_OFF (ETH_HLEN_ + offsetof(struct iphdr, daddr))
#define IP_CSUM_OFF (ETH_HLEN_ + offsetof(struct iphdr, check))

/* bcc 0.26 declares this helper with 3 arguments; the kernel ABI has 4 (see bpf/README.md). */
#define fip_redirect_neigh ((long (*)(__u32, void *, int, __u64))BPF_FUNC_redirect_neigh)

struct fip_pkt {
    __be32 src;
    __be32 dst;
    __be16 sport;
    __be16 dport;
    __u8 proto;
    __u8 syn;               /* TCP SYN without ACK: a new connection */
    __u32 l4;               /* offset of the L4 header */
};

/* 0 = a translatable packet described in *p; -1 = leave it alone */
static __always_inline int fip_parse(struct __sk_buff *skb, struct fip_pkt *p)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + ETH_HLEN_;
    __u16 ports[2];
    __u8 flags;

    if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return -1;
    if (ip->ihl < 5 || (ip->frag_off & bpf_htons(0x1fff)))
        return -1;
    if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
        return -1;
    p->src = ip->saddr;
    p->dst = ip->daddr;
    p->proto = ip->protocol;
    p->l4 = ETH_HLEN_ + (ip->ihl & 0xF) * 4;
    p->syn = 0;
    /* the L4 header is normally in the linear data: read it there (no helper call) */
    __u8 *l4 = data + p->l4;
    if ((void *)(l4 + 14) <= end) {
        p->sport = *(__be16 *)l4;
        p->dport = *(__be16 *)(l4 + 2);
        if (p->proto == IPPROTO_TCP)
            p->syn = (l4[13] & 0x12) == 0x02;
        return 0;
    }
    if (bpf_skb_load_bytes(skb, p->l4, ports, sizeof(ports)) < 0)
        return -1;
    p->sport = ports[0];
    p->dport = ports[1];
    if (p->proto == IPPROTO_TCP) {
        if (bpf_skb_load_bytes(skb, p->l4 + 13, &flags, 1) < 0)
            return -1;
        p->syn = (flags & 0x12) == 0x02;
    }
    return 0;
}

static __always_inline __u32 fip_l4_csum_off(struct fip_pkt *p)
{
    return p->l4 + (p->proto == IPPROTO_TCP ? 16 : 6);
}

static __always_inline __u64 fip_l4_flags(struct fip_pkt *p)
{
    return p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* Replace the IPv4 address at ip_off (src or dst) and the L4 port at port_off (0 = sport,
 * 2 = dport), fixing the IP and the L4 (pseudo-header) checksums. */
static __always_inline int fip_rewrite(struct __sk_buff *skb, struct fip_pkt *p, int ip_off,
                                       __be32 old_ip, __be32 new_ip, int port_off,
                                       __be16 old_port, __be16 new_port)
{
    __u32 csum = fip_l4_csum_off(p);
    __u64 l4f = fip_l4_flags(p);

    if (old_ip != new_ip) {
        if (bpf_l4_csum_replace(skb, csum, old_ip, new_ip, l4f | BPF_F_PSEUDO_HDR | 4) < 0)
            return -1;
        if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ip, new_ip, 4) < 0)
            return -1;
        if (bpf_skb_store_bytes(skb, ip_off, &new_ip, 4, 0) < 0)
            return -1;
    }
    if (old_port != new_port) {
        if (bpf_l4_csum_replace(skb, csum, old_port, new_port, l4f | 2) < 0)
            return -1;
        if (bpf_skb_store_bytes(skb, p->l4 + port_off, &new_port, 2, 0) < 0)
            return -1;
    }
    return 0;
}

/* For a frame looped back into our own ingress: its destination MAC must be ours, or the stack
 * drops it as PACKET_OTHERHOST. */
static __always_inline int fip_mac_to_self(struct __sk_buff *skb)
{
    __u8 mac[ETH_ALEN];
    if (bpf_skb_load_bytes(skb, ETH_ALEN, mac, ETH_ALEN) < 0)
        return -1;
    return bpf_skb_store_bytes(skb, 0, mac, ETH_ALEN, 0);
}

#endif
