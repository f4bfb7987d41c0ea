#!/bin/sh
# The Sentinel beside each fip-redis pod: monitors master "fip" (quorum 2 of 3). Its config is
# written once per pod into an emptyDir (Sentinel rewrites it as it learns the topology).
set -eu
DOMAIN=fip-redis-headless.kube-system.svc
SELF="$(hostname).$DOMAIN"
CONF=/sentinel/sentinel.conf
if [ ! -s "$CONF" ]; then
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
    {
        echo "port 26379"
        echo "dir /sentinel"
        echo "sentinel resolve-hostnames yes"
        echo "sentinel announce-hostnames yes"
        echo "sentinel announce-ip $SELF"
        echo "sentinel monitor fip $master 6379 2"
        echo "sentinel down-after-milliseconds fip 5000"
        echo "sentinel failover-timeout fip 60000"
        echo "sentinel parallel-syncs fip 1"
        [ -z "${REDIS_PASSWORD:-}" ] || echo "sentinel auth-pass fip $REDIS_PASSWORD"
    } > "$CONF"
fi
exec redis-sentinel "$CONF"
