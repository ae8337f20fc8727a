#!/bin/sh
# Writes random secrets for compose.yaml into ./secrets (files, 0600) and ./.env (MinIO root
# credentials, which MinIO and Milvus read from the environment). Existing files are kept, so
# running it again never changes a secret that data was already written with.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
put() {  # put NAME VALUE: write once
    [ -s "secrets/$1" ] || printf '%s' "$2" > "secrets/$1"
}
put postgres_password "$(rand 24)"
put grafana_admin_password "$(rand 16)"
put AIMA_AUTH__JWT_SECRET "$(rand 32)"
put AIMA_AUDIT__KEY "$(rand 32)"    # 64 hex characters: the audit chain's HMAC key
put AIMA_ENCRYPTION__KEK "$(rand 32)"  # 64 hex characters: the KEK wrapping media data keys
put AIMA_DATABASE_URL "postgresql+psycopg://aima:$(cat secrets/postgres_password)@postgres:5432/aima"
if [ ! -s .env ]; then
    printf 'MINIO_ROOT_USER=aima-%s\nMINIO_ROOT_PASSWORD=%s\n' "$(rand 4)" "$(rand 24)" > .env
fi
. ./.env
put AIMA_BLOBS__S3_ACCESS_KEY "$MINIO_ROOT_USER"
put AIMA_BLOBS__S3_SECRET_KEY "$MINIO_ROOT_PASSWORD"
echo "secrets in $(pwd)/secrets; keep a copy of AIMA_AUDIT__KEY and AIMA_ENCRYPTION__KEK outside this host (audit verify and every encrypted blob need them)"
