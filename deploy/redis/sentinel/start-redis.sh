#!/bin/sh
# fip-redis-N in the Sentinel variant: start as a replica of whatever master the Sentinels name
# now (after a failover that is not pod 0); on a brand-new set, pod 0 starts as the master.
set -eu
DOMAIN=fip-redis-headless.kube-system.svc
SELF="$(hostname).$DOMAIN"
master=""
for i in 0 1 2; do
    peer="fip-redis-$i.$DOMAIN"
    [ "$peer" = "$SELF" ] && continue
    if got=$(redis-cli -h "$peer" -p 26379 --raw SENTINEL get-master-addr-by-name fip 2>/dev/null); then
        master=$(printf '%s\n' "$got" | head -n 1)
        [ -n "$master" ] && break
    fi
done
[ -n "$master" ] || master="fip-redis-0.$DOMAIN"
set -- /etc/redis/redis.conf --replica-announce-ip "$SELF"
[ "$master" = "$SELF" ] || set -- "$@" --replicaof "$master" 6379
[ -z "${REDIS_PASSWORD:-}" ] || set -- "$@" --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
exec redis-server "$@"
