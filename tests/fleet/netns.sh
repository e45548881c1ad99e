# tests/fleet/netns.sh: the network of the fleet test (tests/fleet/run.sh), in Linux network namespaces, for
# bash scripts to source. Needs root and iproute2. Every namespace is named PREFIX-ROLE, so two runs with two
# prefixes never meet:
#
#   PREFIX-rt    the router: one bridge per network, IPv4 and IPv6 forwarding, .1 / ::1 on each
#   PREFIX-eu    edge eu-1       10.1.0.10   fd00:1::10     region eu's network 10.1.0.0/24, fd00:1::/64
#   PREFIX-ceu   a client in eu  10.1.0.100  fd00:1::100
#   PREFIX-us    edge us-1       10.2.0.10   fd00:2::10     region us's network 10.2.0.0/24, fd00:2::/64
#   PREFIX-cus   a client in us  10.2.0.100  fd00:2::100
#   PREFIX-par   edge parent-1   10.9.0.10   fd00:9::10     and the origin, on its 127.0.0.1
#   PREFIX-dns   PowerDNS        10.53.0.53  fd00:53::53
#
# These are the addresses tests/fleet/fleet.yaml names. IPv6 addresses are added without duplicate address
# detection (nodad): a tentative address cannot be bound, and there is nothing to collide with here.
#
#   fleet_net_up PREFIX      creates it all (fails, leaving what it made for fleet_net_down, on any error)
#   fleet_net_down PREFIX    removes every PREFIX-* namespace it made; harmless when there is none
#   fleet_in PREFIX ROLE CMD...   runs CMD in PREFIX-ROLE

FLEET_ROLES=(rt eu ceu us cus par dns)

fleet_in() { # PREFIX ROLE CMD...
    local ns="$1-$2"
    shift 2
    ip netns exec "$ns" "$@"
}

# fleet_link PREFIX ROLE BRIDGE V4 V6: a veth from PREFIX-ROLE (eth0) to the router's BRIDGE, with the host's
# addresses (on /24 and /64) and default routes through the router.
fleet_link() {
    local p=$1 role=$2 br=$3 v4=$4 v6=$5
    local net4=${v4%.*} net6=${v6%::*}
    ip link add eth0 netns "$p-$role" type veth peer name "v-$role" netns "$p-rt"
    ip -n "$p-rt" link set "v-$role" master "$br" up
    ip -n "$p-$role" link set eth0 up
    ip -n "$p-$role" addr add "$v4/24" dev eth0
    ip -n "$p-$role" addr add "$v6/64" dev eth0 nodad
    ip -n "$p-$role" route add default via "$net4.1"
    ip -n "$p-$role" -6 route add default via "$net6::1"
}

fleet_net_up() { # PREFIX
    local p=$1 role br
    for role in "${FLEET_ROLES[@]}"; do
        ip netns add "$p-$role"
        ip -n "$p-$role" link set lo up
    done
    ip netns exec "$p-rt" sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    # one bridge per network, the router's address on it
    for br in 1 2 9 53; do
        ip -n "$p-rt" link add "br$br" type bridge
        ip -n "$p-rt" link set "br$br" up
        ip -n "$p-rt" addr add "10.$br.0.1/24" dev "br$br"
        ip -n "$p-rt" addr add "fd00:$br::1/64" dev "br$br" nodad
    done
    fleet_link "$p" eu br1 10.1.0.10 fd00:1::10
    fleet_link "$p" ceu br1 10.1.0.100 fd00:1::100
    fleet_link "$p" us br2 10.2.0.10 fd00:2::10
    fleet_link "$p" cus br2 10.2.0.100 fd00:2::100
    fleet_link "$p" par br9 10.9.0.10 fd00:9::10
    fleet_link "$p" dns br53 10.53.0.53 fd00:53::53
}

fleet_net_down() { # PREFIX
    local p=$1 role
    for role in "${FLEET_ROLES[@]}"; do
        ip netns del "$p-$role" 2>/dev/null || true
    done
}
