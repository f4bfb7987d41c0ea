#!/bin/sh
# The Sentinel beside each fip-redis pod: monitors master "fip" (quorum 2 of 3). Its config is
# written once per pod into an emptyDir (Sentinel rewrites it as it learns the topology).
# The FIP_REDIS_* / FIP_SENTINEL_* variables exist for tests and other layouts.
set -eu
DOMAIN=${FIP_REDIS_DOMAIN:-fip-redis-headless.kube-system.svc}
SELF=${FIP_REDIS_SELF:-$(hostname).$DOMAIN}
PEERS=${FIP_REDIS_PEERS:-"fip-redis-0.$DOMAIN fip-redis-1.$DOMAIN fip-redis-2.$DOMAIN"}
DIR=${FIP_SENTINEL_DIR:-/sentinel}
CONF=$DIR/sentinel.conf
if [ ! -s "$CONF" ]; then
    master=""
    for peer in $PEERS; do
        [ "$peer" = "$SELF" ] && continue
        if got=$(redis-cli -h "$peer" -p 26379 --raw SENTINEL get-master-addr-by-name fip 2>/dev/null); then
            master=$(printf '%s\n' "$got" | head -n 1)
            [ -n "$master" ] && break
        fi
    done
    [ -n "$master" ] || master=${PEERS%% *}
    {
        echo "port 26379"
        [ -z "${FIP_SENTINEL_BIND:-}" ] || echo "bind $FIP_SENTINEL_BIND"
        echo "protected-mode no"
        echo "dir $DIR"
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
exec redis-server "$CONF" --sentinel
