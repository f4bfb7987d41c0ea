#!/bin/sh
# fip-redis-N in the Sentinel variant: start as a replica of whatever master the Sentinels name
# now (after a failover that is not pod 0); on a brand-new set, the first peer (pod 0) starts as
# the master. The FIP_REDIS_* variables exist for tests and other layouts; the pods leave them unset.
set -eu
DOMAIN=${FIP_REDIS_DOMAIN:-fip-redis-headless.kube-system.svc}
SELF=${FIP_REDIS_SELF:-$(hostname).$DOMAIN}
PEERS=${FIP_REDIS_PEERS:-"fip-redis-0.$DOMAIN fip-redis-1.$DOMAIN fip-redis-2.$DOMAIN"}
CONF=${FIP_REDIS_CONF:-/etc/redis/redis.conf}
master=""
for peer in $PEERS; do
    [ "$peer" = "$SELF" ] && continue
    if got=$(redis-cli -h "$peer" -p 26379 --raw SENTINEL get-master-addr-by-name fip 2>/dev/null); then
        master=$(printf '%s\n' "$got" | head -n 1)
        [ -n "$master" ] && break
    fi
done
[ -n "$master" ] || master=${PEERS%% *}
set -- "$CONF" --replica-announce-ip "$SELF"
[ "$master" = "$SELF" ] || set -- "$@" --replicaof "$master" 6379
[ -z "${REDIS_PASSWORD:-}" ] || set -- "$@" --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
exec redis-server "$@"
