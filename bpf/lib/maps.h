/* Map layouts and pinned map definitions shared by every fip ClusterIP program.
 *
 * All maps live on bpffs under FIP_PIN_DIR (a -D flag), so the datapath and its connection
 * state survive a fipd restart: the next compile re-opens the pinned maps instead of making
 * new ones. Python reads these layouts from the compiled program (bcc's Key/Leaf types) and
 * fills them by field name; nothing here is restated on the Python side.
 *
 * Addresses and ports are in network byte order everywhere (as on the wire).
 */
#ifndef FIP_MAPS_H
#define FIP_MAPS_H

#ifndef FIP_PIN_DIR
#error "FIP_PIN_DIR must be set (-DFIP_PIN_DIR=\"/sys/fs/bpf/fip\")"
#endif
#ifndef FIP_SVC_MAX
#define FIP_SVC_MAX 16384
#endif
#ifndef FIP_BE_MAX
#define FIP_BE_MAX 65536
#endif
#ifndef FIP_CT_MAX
#define FIP_CT_MAX 131072
#endif
#ifndef FIP_AFF_MAX
#define FIP_AFF_MAX 65536
#endif
#ifndef FIP_PODS_MAX
#define FIP_PODS_MAX 4096
#endif

/* services: one entry per Service port (frontend). count = backend slots 1..count in `backends`;
 * count 0 = the Service exists but has no ready endpoint (traffic is refused, not passed). */
struct svc_key {
    __be32 vip;
    __be16 port;
    __u8 proto;
    __u8 pad;
};
struct svc_val {
    __u32 id;               /* stable frontend id; also the reverse NAT index */
    __u16 count;
    __u16 flags;
    __u32 affinity_timeout; /* seconds; 0 = no ClientIP affinity */
};

struct be_key {
    __u32 id;
    __u32 slot;             /* 1..count */
};
struct be_val {
    __be32 ip;
    __be16 port;
    __u16 pad;
};

/* reverse NAT: frontend id -> the Service address replies must show */
struct revnat_val {
    __be32 vip;
    __be16 port;
    __u16 pad;
};

/* connection tracking (LRU). dir 0 = original (client -> VIP), dir 1 = reply (backend -> client
 * or, for a pod reaching itself, backend -> FIP_HAIRPIN_IP). An established connection keeps
 * the backend recorded here whatever happens to the Service's endpoints later. */
#define CT_ORIG 0
#define CT_REPLY 1
#define CT_F_HAIRPIN 1
struct ct_key {
    __be32 src;
    __be32 dst;
    __be16 sport;
    __be16 dport;
    __u8 proto;
    __u8 dir;
    __u16 pad;
};
struct ct_val {
    __be32 ip;              /* orig: backend; reply: the client's real address */
    __be16 port;            /* orig: backend port; reply: the client's port */
    __u8 flags;
    __u8 pad;
    __u32 id;               /* frontend id the connection was balanced for */
    __u32 pad2;
    __u64 seen;             /* bpf_ktime_get_ns of the last packet that used it (orig side) */
};

/* ClientIP session affinity (LRU): client = source IP (tc) or netns cookie (socket mode) */
struct aff_key {
    __u32 id;
    __u32 pad;
    __u64 client;
};
struct aff_val {
    __be32 ip;
    __be16 port;
    __u16 slot;
    __u64 seen;
};

/* socket mode: network namespaces (by cookie) whose sockets are balanced */
struct pod_val {
    __u32 ifindex;
    __u32 pad;
};

/* socket mode reverse translation: recvmsg4 (unconnected UDP) and getpeername4 */
struct sockrev_key {
    __u64 cookie;           /* socket cookie */
    __be32 ip;
    __be16 port;
    __u16 pad;
};

/* counters, per CPU; index names match bpf/loader.py STATS */
#define ST_NAT_NEW 0
#define ST_NAT_EST 1
#define ST_REVNAT 2
#define ST_HAIRPIN 3
#define ST_NO_BACKEND 4
#define ST_SOCK_CONNECT 5
#define ST_SOCK_SENDMSG 6
#define ST_SOCK_RECVMSG 7
#define ST_AFFINITY_HIT 8
#define ST_MAX 16

BPF_TABLE_PINNED("hash", struct svc_key, struct svc_val, fip_services, FIP_SVC_MAX,
                 FIP_PIN_DIR "/services", BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("hash", struct be_key, struct be_val, fip_backends, FIP_BE_MAX,
                 FIP_PIN_DIR "/backends", BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("hash", __u32, struct revnat_val, fip_revnat, FIP_SVC_MAX,
                 FIP_PIN_DIR "/revnat", BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("lru_hash", struct ct_key, struct ct_val, fip_ct, FIP_CT_MAX, FIP_PIN_DIR "/ct");
BPF_TABLE_PINNED("lru_hash", struct aff_key, struct aff_val, fip_affinity, FIP_AFF_MAX,
                 FIP_PIN_DIR "/affinity");
BPF_TABLE_PINNED("hash", __u64, struct pod_val, fip_pods, FIP_PODS_MAX, FIP_PIN_DIR "/pods");
BPF_TABLE_PINNED("lru_hash", struct sockrev_key, struct revnat_val, fip_sockrev, FIP_CT_MAX,
                 FIP_PIN_DIR "/sockrev");
BPF_TABLE_PINNED("percpu_array", __u32, __u64, fip_stats, ST_MAX, FIP_PIN_DIR "/stats");

static __always_inline void fip_count(__u32 index)
{
    __u64 *value = fip_stats.lookup(&index);
    if (value)
        *value += 1;
}

#endif
