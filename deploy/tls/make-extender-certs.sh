#!/bin/sh
# Make the certificates fip-extender's mutual TLS needs, with openssl, into DIR:
#   ca.crt ca.key          a private CA (keep ca.key offline; it signs everything below)
#   tls.crt tls.key        the extender's server certificate (fip-extender.kube-system.svc)
#   probe.crt probe.key    a client certificate for the extender's own readiness probe
#   client.crt client.key  kube-scheduler's client certificate (tlsConfig certFile/keyFile)
# then print the two commands that install them (docs/install.md, step 3).
#
#   sh deploy/tls/make-extender-certs.sh DIR [DAYS]      (DAYS: validity, default 825)
set -eu
dir=${1:?usage: make-extender-certs.sh DIR [DAYS]}
days=${2:-825}
name=fip-extender.kube-system.svc
mkdir -p "$dir"
cd "$dir"
umask 077
for f in ca.key tls.key probe.key client.key; do
    [ ! -e "$f" ] || { echo "$dir/$f exists: refusing to overwrite keys" >&2; exit 1; }
done
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=fip-extender-ca" \
    -keyout ca.key -out ca.crt 2>/dev/null
leaf() {  # leaf NAME SUBJECT-CN EXTENSIONS
    printf '%b' "$3" > "$1.ext"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
leaf tls "$name" "subjectAltName=DNS:$name,DNS:fip-extender.kube-system,DNS:fip-extender\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
leaf probe fip-extender-probe "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
leaf client kube-scheduler "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
rm -f ca.srl
chmod 0644 ca.crt tls.crt probe.crt client.crt
cat <<EOT
Made in $dir. Install them:
  kubectl -n kube-system create secret generic fip-extender-tls --type=kubernetes.io/tls \\
      --from-file=tls.crt=$dir/tls.crt --from-file=tls.key=$dir/tls.key --from-file=ca.crt=$dir/ca.crt \\
      --from-file=probe.crt=$dir/probe.crt --from-file=probe.key=$dir/probe.key
  # on every control-plane node, where kube-scheduler runs:
  install -d -m 0700 /etc/kubernetes/fip-extender
  install -m 0600 $dir/ca.crt $dir/client.crt $dir/client.key /etc/kubernetes/fip-extender/
Keep $dir/ca.key out of the cluster.
EOT
