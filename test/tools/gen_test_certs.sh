#!/bin/sh
# gen_test_certs.sh DIR: the certificates and keys the TLS tests use.
#
# Writes into DIR (created if needed), with /usr/bin/openssl (or $OPENSSL):
#   ca.pem, ca.key              test CA "hoody-tunnel test CA" (RSA 2048)
#   ca2.pem, ca2.key            a second, unrelated CA (for "unknown issuer")
#   server.pem, server.key      RSA 2048 server cert signed by ca: DNS:localhost,
#                               DNS:127.0.0.1, IP:127.0.0.1; key in PKCS#8
#   server-rsa.key              the same RSA key in the traditional
#                               "RSA PRIVATE KEY" form
#   server-ec.pem, server-ec.key  EC P-256 server cert signed by ca, same names;
#                               key in the SEC1 "EC PRIVATE KEY" form
#   server-ec-p8.key            the same EC key in PKCS#8
#   server-chain.pem            server.pem followed by ca.pem
#   expired.pem, expired.key    signed by ca, valid 2020-01-01 .. 2021-01-01
#   wrongname.pem, wrongname.key  signed by ca for DNS:wrong.example only
#   encrypted.key               server.key encrypted with a password
#
# Idempotent: when DIR/.complete exists nothing is done. Exit status 0 on
# success, 1 on failure (the partial DIR is left for inspection), 2 on usage.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
ossl=${OPENSSL:-/usr/bin/openssl}
[ -x "$ossl" ] || { echo "$0: $ossl not found (install openssl)" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/.complete" ] && exit 0
cd "$dir"

# Quiet unless something fails.
run() {
	if ! "$ossl" "$@" >openssl.log 2>&1; then
		echo "$0: openssl $*" >&2
		cat openssl.log >&2
		exit 1
	fi
}

cat >ext-server.cnf <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:127.0.0.1, IP:127.0.0.1
EOF
cat >ext-wrong.cnf <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
EOF

# mkca NAME CN
mkca() {
	run genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key"
	run req -new -x509 -key "$1.key" -subj "/O=hoody-tunnel tests/CN=$2" -days 3650 \
		-sha256 -extensions v3_ca -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}

# sign NAME EXTFILE: NAME.csr signed by ca for 825 days.
sign() {
	run x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -sha256 \
		-extfile "$2" -out "$1.pem"
}

mkca ca "hoody-tunnel test CA"
mkca ca2 "hoody-tunnel other CA"

run genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server.key
run rsa -in server.key -traditional -out server-rsa.key
run req -new -key server.key -subj "/CN=localhost" -out server.csr
sign server ext-server.cnf
cat server.pem ca.pem >server-chain.pem

run ecparam -name prime256v1 -genkey -noout -out server-ec.key
run pkcs8 -topk8 -nocrypt -in server-ec.key -out server-ec-p8.key
run req -new -key server-ec.key -subj "/CN=localhost" -out server-ec.csr
sign server-ec ext-server.cnf

run genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out wrongname.key
run req -new -key wrongname.key -subj "/CN=wrong.example" -out wrongname.csr
sign wrongname ext-wrong.cnf

run pkcs8 -topk8 -v2 aes-256-cbc -passout pass:hoody -in server.key -out encrypted.key

# An expired certificate needs explicit dates: "openssl ca" takes them.
run genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out expired.key
run req -new -key expired.key -subj "/CN=localhost" -out expired.csr
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca.cnf <<'EOF'
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
EOF
run ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
	-startdate 20200101000000Z -enddate 20210101000000Z -extfile ext-server.cnf \
	-notext -out expired.pem

rm -f ./*.csr openssl.log ca.srl
touch .complete
