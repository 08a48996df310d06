#!/usr/bin/env bash
# Make a test/pilot certificate authority plus server and client certificates for DICOM TLS
# (PS3.15 B.1/B.9). Idempotent: existing files are kept, missing ones are created.
#
#   deploy/make_certs.sh DIR [SERVER_NAME]
#
# DIR/ca.pem, ca.key          the CA (self-signed, 10 years)
# DIR/server.pem, server.key  the node's certificate (CN=SERVER_NAME, SAN localhost/127.0.0.1)
# DIR/client.pem, client.key  a sender's certificate (for storescu +tls, Orthanc DicomTls)
#
# Not for production PKI: the keys are unencrypted so services start unattended; a site with
# its own CA replaces these files and points config.yaml receive.tls at them.
set -euo pipefail

dir=${1:?usage: make_certs.sh DIR [SERVER_NAME]}
name=${2:-lipo-node}
days=3650
mkdir -p "$dir"
cd "$dir"
umask 077

if [[ ! -s ca.key || ! -s ca.pem ]]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$days" \
    -keyout ca.key -out ca.pem -subj "/O=lipo-node test/CN=lipo-node test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi

issue() {  # issue NAME CN EXTENDED_KEY_USAGE
  local base=$1 cn=$2 eku=$3
  [[ -s $base.key && -s $base.pem ]] && return 0
  local ext
  ext=$(mktemp)
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$eku" "subjectAltName=DNS:localhost,DNS:$cn,IP:127.0.0.1" > "$ext"
  openssl req -newkey rsa:2048 -sha256 -nodes -keyout "$base.key" -out "$base.csr" \
    -subj "/O=lipo-node test/CN=$cn" 2>/dev/null
  openssl x509 -req -in "$base.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -sha256 -extfile "$ext" -out "$base.pem" 2>/dev/null
  rm -f "$base.csr" "$ext"
}

issue server "$name" serverAuth
issue client "${name}-client" clientAuth
chmod 644 ca.pem server.pem client.pem
echo "certificates in $(pwd): ca.pem server.pem/server.key client.pem/client.key"
