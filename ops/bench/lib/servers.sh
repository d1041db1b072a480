# shellcheck shell=bash
# ops/bench/lib/servers.sh: the servers a benchmark runs next to Keel (sourced by lib/keel.sh):
# Postgres clusters made by hand with Keel's binaries (the floors, pgBackRest's), one S3Proxy with
# an HTTP and an HTTPS endpoint, pgBackRest 2.45 and its cluster, cpuacct cgroups.

# --- the server user and Keel's binaries ---------------------------------------------------------

SERVER_UID=
SERVER_GID=
server_user() {  # as root: the user Keel runs Postgres as (KEEL_POSTGRES_OS_USER, else postgres, else keel)
    [[ $(id -u) -eq 0 ]] || return 0
    command -v setpriv >/dev/null || die "setpriv is required as root"
    SERVER_USER=${KEEL_POSTGRES_OS_USER:-}
    if [[ -z $SERVER_USER ]]; then
        if id -u postgres >/dev/null 2>&1; then SERVER_USER=postgres; else SERVER_USER=keel; fi
    fi
    SERVER_UID=$(id -u "$SERVER_USER") || die "user $SERVER_USER does not exist"
    SERVER_GID=$(id -g "$SERVER_USER")
}
as_server() {  # as_server CMD...: as the server user when root (initdb and postgres refuse root)
    if [[ -n $SERVER_UID ]]; then
        setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- "$@"
    else
        "$@"
    fi
}
own() { [[ -z $SERVER_UID ]] || chown -R "$SERVER_UID:$SERVER_GID" "$@"; }

pgbin_of() {  # pgbin_of VERSION: sets PGBIN to Keel's unpacked binaries of that version, checked
    PGBIN=$INSTALL_DIR/$1/bin
    local program
    for program in initdb pg_ctl postgres; do
        [[ -x $PGBIN/$program ]] || die "$PGBIN/$program is missing: did Keel unpack Postgres $1 there?"
    done
}

random_password() { head -c "${1:-24}" /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }

floor_password() {  # floor_password DIR: a fresh password for user keel in DIR/pwfile (DIR owned by the server user), printed
    local password
    password=$(random_password)
    printf '%s\n' "$password" >"$1/pwfile"
    chmod 600 "$1/pwfile"
    own "$1"
    echo "$password"
}
floor_initdb() {  # floor_initdb DIR DATA: initdb of DIR/DATA with Keel's initdb flags and floor_password's password
    as_server "$PGBIN/initdb" -D "$1/$2" -U keel --pwfile="$1/pwfile" --auth=scram-sha-256 \
        --data-checksums --encoding=UTF8 --locale=C --no-instructions >"$1/initdb.log" 2>&1 \
        || die "initdb failed: $(cat "$1/initdb.log")"
}
floor_listen() {  # floor_listen DATADIR PORT: 127.0.0.1 only, no Unix socket
    printf "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n" "$2" >>"$1/postgresql.conf"
}

stop_cluster() {  # stop_cluster DATADIR [MODE]: pg_ctl stop (fast, then immediate) when it runs
    [[ -f $1/postmaster.pid ]] || return 0
    if [[ ${2:-fast} == immediate ]]; then
        as_server "$PGBIN/pg_ctl" stop -D "$1" -m immediate -w >/dev/null 2>&1 || true
    else
        as_server "$PGBIN/pg_ctl" stop -D "$1" -m fast -w -t 60 >/dev/null 2>&1 \
            || as_server "$PGBIN/pg_ctl" stop -D "$1" -m immediate -w >/dev/null 2>&1 || true
    fi
}

# --- cpuacct cgroups (v1): CPU seconds of a component, its children included ----------------------

CG=
IN_CG=()
cgroups_make() {  # cgroups_make GROUP...: one group each under this run's, when cpuacct v1 is writable
    if [[ -w /sys/fs/cgroup/cpuacct ]] && mkdir "/sys/fs/cgroup/cpuacct/keel-bench-${NAME%.sh}-$$" 2>/dev/null; then
        CG=/sys/fs/cgroup/cpuacct/keel-bench-${NAME%.sh}-$$
        CG_GROUPS=("$@")
        local group
        for group in "$@"; do mkdir "$CG/$group"; done
    else
        say "no cpuacct cgroup (v1) available: CPU seconds are not reported"
    fi
    export BENCH_CG=$CG
}
# cgroup GROUP: sets IN_CG to the words that run a command in cgroup GROUP (its children too), so
# that "${IN_CG[@]}" cmd ... & leaves $! the command's own pid (sh execs it); empty without cgroups.
cgroup() {
    IN_CG=()
    [[ -z $CG || ! -d $CG/$1 ]] || IN_CG=(sh -c 'echo $$ >"$0/tasks" && exec "$@"' "$CG/$1")
}
cgroups_remove() {
    [[ -n $CG ]] || return 0
    local group
    for group in "${CG_GROUPS[@]}"; do rmdir "$CG/$group" 2>/dev/null; done
    rmdir "$CG" 2>/dev/null || say "could not remove cgroup $CG: $(cat "$CG"/*/tasks 2>/dev/null | tr '\n' ' ')"
}

# --- S3Proxy: one S3-compatible server, HTTP and HTTPS, objects under $WORK/s3/data ---------------

S3_PID=
S3PROXY_NAME=s3proxy-2.6.0-jar-with-dependencies.jar
s3proxy_jar() {  # sets S3PROXY_JAR: from ~/.m2, the cache next to the Postgres binaries, else Maven Central (SHA-1 checked)
    local candidate url
    if [[ -z ${S3PROXY_JAR:-} ]]; then
        for candidate in "$HOME/.m2/repository/org/gaul/s3proxy/2.6.0/$S3PROXY_NAME" "$(dirname "$INSTALL_DIR")/$S3PROXY_NAME"; do
            [[ -s $candidate ]] && S3PROXY_JAR=$candidate && break
        done
    fi
    if [[ -z ${S3PROXY_JAR:-} ]]; then
        S3PROXY_JAR=$(dirname "$INSTALL_DIR")/$S3PROXY_NAME
        say "downloading S3Proxy 2.6.0 from $MAVEN into $S3PROXY_JAR ..."
        url=$MAVEN/org/gaul/s3proxy/2.6.0/$S3PROXY_NAME
        curl -fsS -o "$WORK/$S3PROXY_NAME" "$url" || die "could not download $url"
        [[ $(sha1sum <"$WORK/$S3PROXY_NAME" | cut -d' ' -f1) == $(curl -fsS "$url.sha1" | cut -c1-40) ]] \
            || die "the SHA-1 of $url does not match"
        mv "$WORK/$S3PROXY_NAME" "$S3PROXY_JAR"
    fi
    [[ -s $S3PROXY_JAR ]] || die "no S3Proxy jar at $S3PROXY_JAR"
}

# s3proxy_start HTTP_PORT HTTPS_PORT KEEL_BUCKET SCHEME: S3Proxy (filesystem-nio2) with a throwaway
# certificate, in cgroup s3proxy when there are cgroups; sets S3_ID, S3_SECRET, S3_DATA, and what
# the next keel_start needs to use it over SCHEME (https: a copy of the JDK's cacerts trusting it).
s3proxy_start() {
    local http=$1 https=$2 bucket=$3 scheme=$4 storepass cacerts deadline endpoint
    s3proxy_jar
    S3_TLS_PORT=$https
    S3_ID=bench$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
    S3_SECRET=$(random_password 30)
    S3_DATA=$WORK/s3/data
    storepass=$(random_password 15)
    mkdir -p "$S3_DATA"
    keytool -genkeypair -keyalg RSA -keysize 2048 -alias s3proxy -dname CN=127.0.0.1 -ext SAN=ip:127.0.0.1 -validity 2 \
        -keystore "$WORK/s3/keystore.jks" -storetype JKS -storepass "$storepass" -keypass "$storepass" >/dev/null 2>&1 \
        || die "keytool could not make the S3Proxy keystore"
    # Keel's JVM must trust that certificate, and still Maven Central's (it downloads Postgres binaries).
    keytool -exportcert -alias s3proxy -keystore "$WORK/s3/keystore.jks" -storepass "$storepass" -file "$WORK/s3/s3proxy.crt" >/dev/null 2>&1
    cacerts=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/security/cacerts
    cp -L "$cacerts" "$WORK/s3/truststore" || die "no JDK cacerts at $cacerts"
    chmod 644 "$WORK/s3/truststore"
    keytool -importcert -noprompt -alias keel-bench-s3proxy -file "$WORK/s3/s3proxy.crt" -keystore "$WORK/s3/truststore" \
        -storepass changeit >/dev/null 2>&1 || die "could not add the S3Proxy certificate to a copy of $cacerts"
    cat >"$WORK/s3/s3proxy.properties" <<EOF
s3proxy.endpoint=http://127.0.0.1:$http
s3proxy.secure-endpoint=https://127.0.0.1:$https
s3proxy.keystore-path=$WORK/s3/keystore.jks
s3proxy.keystore-password=$storepass
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ID
s3proxy.credential=$S3_SECRET
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$S3_DATA
jclouds.identity=bench
jclouds.credential=bench
EOF
    chmod 600 "$WORK/s3/s3proxy.properties"
    say "starting S3Proxy on 127.0.0.1:$http (HTTP) and :$https (HTTPS), objects under $S3_DATA ..."
    cgroup s3proxy
    "${IN_CG[@]}" java -Xmx512m -jar "$S3PROXY_JAR" --properties "$WORK/s3/s3proxy.properties" >"$WORK/s3/s3proxy.log" 2>&1 &
    S3_PID=$!
    export BENCH_S3_PID=$S3_PID
    deadline=$(( $(now_ms) + 90000 ))
    until ! port_free "$https" && ! port_free "$http"; do
        kill -0 "$S3_PID" 2>/dev/null || die "S3Proxy exited: $(tail -n 5 "$WORK/s3/s3proxy.log")"
        (( $(now_ms) < deadline )) || die "S3Proxy did not listen within 90 s"
        sleep 0.2
    done
    endpoint=http://127.0.0.1:$http
    [[ $scheme == https ]] && endpoint=https://127.0.0.1:$https
    KEEL_S3_ENV=(KEEL_S3_ENDPOINT="$endpoint" KEEL_S3_REGION=us-east-1 KEEL_S3_BUCKET="$bucket"
                 KEEL_S3_ACCESS_KEY_ID="$S3_ID" KEEL_S3_SECRET_ACCESS_KEY="$S3_SECRET")
    KEEL_JAVA_OPTS=(-Djavax.net.ssl.trustStore="$WORK/s3/truststore" -Djavax.net.ssl.trustStorePassword=changeit)
}

s3_bucket() {  # s3_bucket NAME: makes a bucket (Keel makes its own; pgBackRest needs one made)
    local code empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855   # S3Proxy needs the header
    code=$(curl -sk -o "$WORK/s3/bucket.out" -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
        -H "x-amz-content-sha256: $empty_sha256" --user "$S3_ID:$S3_SECRET" "https://127.0.0.1:$S3_TLS_PORT/$1")
    [[ $code == 200 ]] || die "S3Proxy did not create bucket $1 ($code): $(cat "$WORK/s3/bucket.out")"
}

s3proxy_stop() {
    if [[ -n $S3_PID ]] && kill -0 "$S3_PID" 2>/dev/null; then
        kill "$S3_PID"
        wait "$S3_PID" 2>/dev/null || true
    fi
    S3_PID=
}

# --- pgBackRest 2.45 and its cluster: Keel's binaries, Keel's settings ----------------------------

PGBR=                        # the cluster's directory: data, sock, spool, lock, log, pgbackrest.conf
PGBR_CONF=
PGBR_RESTORED=               # the data directory of a restored copy, when one runs
pgbr_check() {  # the tools pgBackRest's half needs; sets PGBR_VERSION
    local tool
    [[ $(id -u) -eq 0 ]] || die "run as root: pgBackRest's cluster, like Keel's, runs as user postgres (setpriv)"
    for tool in keytool openssl setpriv pgbackrest; do
        command -v "$tool" >/dev/null || die "$tool is required (pgbackrest: apt-get install -y pgbackrest)"
    done
    PGBR_VERSION=$(pgbackrest version | awk '{print $2}')
    [[ $PGBR_VERSION == 2.45 ]] || say "warning: pgBackRest is $PGBR_VERSION, not 2.45"
}

# pgbr_bench [--cgroups] PORT...: how a benchmark beside pgBackRest starts: its tools (pgbackrest,
# $PGBENCH, by default Debian's 15), the server user, its ports free (Keel's API, S3Proxy's
# $S3_HTTP and $S3_HTTPS, these PORTs), the run's directory (pgBackRest stopped on exit), cpuacct
# cgroups when asked, the jar, and S3Proxy with Keel's bucket $KEEL_BUCKET (over $KEEL_S3) and
# pgBackRest's $PGBR_BUCKET.
pgbr_bench() {
    local cgroups='' port
    [[ ${1:-} != --cgroups ]] || { cgroups=yes; shift; }
    [[ $KEEL_S3 == http || $KEEL_S3 == https ]] || die "KEEL_BENCH_KEEL_S3 is http or https, not '$KEEL_S3'"
    pgbr_check
    PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
    [[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench || true)
    [[ -n $PGBENCH && -x $PGBENCH ]] || die "pgbench is required (Debian: postgresql-15's /usr/lib/postgresql/15/bin/pgbench)"
    server_user
    for port in "$API_PORT" "$S3_HTTP" "$S3_HTTPS" "$@"; do
        port_free "$port" || die "port $port is taken (see KEEL_BENCH_*_PORT(S))"
    done
    bench_init
    at_exit pgbr_stop
    warn_ephemeral "$CATALOG_PORTS" "$INSTANCE_PORTS" "$S3_HTTP-$S3_HTTPS" "$1-${*: -1}"
    [[ -z $cgroups ]] || cgroups_make keel pgbr-pg pgbr-tool s3proxy
    keel_jar
    s3proxy_start "$S3_HTTP" "$S3_HTTPS" "$KEEL_BUCKET" "$KEEL_S3"
    s3_bucket "$PGBR_BUCKET"
}

# pgbr_cluster KEEL_CONF: initdb $PGBR/data with Keel's binaries ($PGBIN) and data checksums, TLS,
# and the settings Keel wrote for its instance (KEEL_CONF) but for its own port ($PGBR_PORT),
# socket, certificate and archive_command (pgbackrest archive-push, counted in cgroup pgbr-tool
# when there are cgroups); pgbackrest.conf for the S3Proxy's bucket $PGBR_BUCKET over HTTPS,
# stanza $STANZA, process-max $PGBR_PROCESS_MAX, archive-async, zstd (level 1 for archive-push);
# $PGBR/pgbackrest runs pgbackrest as the server user with that configuration. Starts the server
# (in cgroup pgbr-pg), makes role and database bench (PGBR_URL, PGBR_PASSWORD), stanza-create, check.
pgbr_cluster() {
    say "making pgBackRest's cluster (Postgres from $PGBIN, port $PGBR_PORT, bucket $PGBR_BUCKET) ..."
    [[ -x $PGBIN/initdb ]] || die "$PGBIN/initdb is missing: Keel should have unpacked it"
    PGBR_CONF=$PGBR/pgbackrest.conf
    # pgBackRest's archive-push runs as the server user and moves itself into pgbr-tool.
    [[ -z $CG ]] || chown "$SERVER_UID:$SERVER_GID" "$CG/pgbr-tool/tasks"
    mkdir -p "$PGBR"/{sock,spool,lock,log}
    chmod 755 "$PGBR"
    own "$PGBR"
    as_server "$PGBIN/initdb" -D "$PGBR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 --data-checksums \
        --encoding=UTF8 --locale=C --no-instructions >"$PGBR/initdb.log" 2>&1 || die "initdb failed: $(cat "$PGBR/initdb.log")"
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 -keyout "$PGBR/data/bench.key" \
        -out "$PGBR/data/bench.crt" >/dev/null 2>&1 || die "openssl could not make a certificate"
    chmod 600 "$PGBR/data/bench.key"
    # Keel's settings for its instance, but this server's own port, socket, certificate, archive_command.
    {
        echo "# Keel's keel.conf for its instance, except the lines below it"
        grep -Ev "^[[:space:]]*(listen_addresses|port|unix_socket_directories|ssl_cert_file|ssl_key_file|archive_command)[[:space:]]*=" "$1"
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PGBR_PORT"
        echo "unix_socket_directories = '$PGBR/sock'"
        echo "ssl_cert_file = 'bench.crt'"
        echo "ssl_key_file = 'bench.key'"
        if [[ -n $CG ]]; then   # pgbackrest's CPU is counted by itself (its async process stays in the group)
            echo "archive_command = 'echo \$\$ > $CG/pgbr-tool/tasks; exec pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'"
        else
            echo "archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'"
        fi
    } >"$PGBR/data/bench.conf"
    echo "include 'bench.conf'" >>"$PGBR/data/postgresql.conf"
    printf 'local all postgres peer\nhostssl bench bench 127.0.0.1/32 scram-sha-256\n' >"$PGBR/data/pg_hba.conf"
    own "$PGBR/data"
    cat >"$PGBR_CONF" <<CONF
[global]
repo1-type=s3
repo1-s3-uri-style=path
repo1-storage-verify-tls=n
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=$S3_TLS_PORT
repo1-s3-region=us-east-1
repo1-s3-bucket=$PGBR_BUCKET
repo1-s3-key=$S3_ID
repo1-s3-key-secret=$S3_SECRET
repo1-path=/pgbackrest
repo1-retention-full=10
archive-async=y
spool-path=$PGBR/spool
lock-path=$PGBR/lock
log-path=$PGBR/log
log-level-console=warn
log-level-file=info
process-max=$PGBR_PROCESS_MAX
compress-type=zst
start-fast=y

[global:archive-push]
compress-level=1

[$STANZA]
pg1-path=$PGBR/data
pg1-port=$PGBR_PORT
pg1-socket-path=$PGBR/sock
pg1-user=postgres
CONF
    chmod 600 "$PGBR_CONF"
    own "$PGBR_CONF"
    # pgbackrest as the server user, in its cgroup: the Python helpers run backups, info and restores through this.
    cat >"$PGBR/pgbackrest" <<WRAPPER
#!/bin/sh
[ -z "$CG" ] || echo \$\$ >"$CG/pgbr-tool/tasks"
exec setpriv --reuid=$SERVER_UID --regid=$SERVER_GID --clear-groups -- pgbackrest --config=$PGBR_CONF --stanza=$STANZA "\$@"
WRAPPER
    chmod 700 "$PGBR/pgbackrest"
    pgbr_start
    PGBR_PASSWORD=$(random_password)
    as_server "$PSQL" -X -q -h "$PGBR/sock" -p "$PGBR_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "create role bench login password '$PGBR_PASSWORD'" -c "create database bench owner bench" >/dev/null \
        || die "could not create pgBackRest's database"
    PGBR_URL="postgres://bench:$PGBR_PASSWORD@127.0.0.1:$PGBR_PORT/bench?sslmode=require"
    "$PGBR/pgbackrest" stanza-create >"$PGBR/stanza.log" 2>&1 || die "stanza-create failed: $(cat "$PGBR/stanza.log")"
    "$PGBR/pgbackrest" check >"$PGBR/check.log" 2>&1 || die "pgbackrest check failed: $(cat "$PGBR/check.log")"
}

pgbr_start() {  # starts $PGBR/data (pg_ctl start -w; a restored copy may replay for minutes), in cgroup pgbr-pg when there are cgroups
    cgroup pgbr-pg
    "${IN_CG[@]}" setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- \
        "$PGBIN/pg_ctl" start -w -t 900 -D "$PGBR/data" -l "$PGBR/postgresql.log" >/dev/null \
        || die "pgBackRest's cluster did not start: $(tail -n 5 "$PGBR/postgresql.log")"
}

pgbr_stop() {  # stops pgBackRest's clusters (a restored copy too), then its processes of this configuration
    [[ -n $PGBR_CONF ]] || return 0
    [[ -z $PGBR_RESTORED ]] || stop_cluster "$PGBR_RESTORED"
    stop_cluster "$PGBR/data"
    # pgBackRest's async archive-push and archive-get outlive the command that started them, briefly.
    local pid deadline=$(( $(now_ms) + 30000 ))
    while [[ -n $(pgrep -f -- "--config=$PGBR_CONF" || true) ]] && (( $(now_ms) < deadline )); do sleep 0.2; done
    for pid in $(pgrep -f -- "--config=$PGBR_CONF" || true); do kill "$pid" 2>/dev/null || true; done
}
