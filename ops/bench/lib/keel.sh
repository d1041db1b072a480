# shellcheck shell=bash
# ops/bench/lib/keel.sh: what every benchmark shares (sourced, not run; nothing starts until a
# function is called). Set-up, cleanup, the jar, Keel, its API, provisioning, timing; the servers a
# benchmark runs by hand, S3Proxy and pgBackRest come from lib/servers.sh, sourced below. Python
# helpers live in ops/bench/py (benchlib, and one script per benchmark).
#
# Ports: a benchmark sets API_PORT, CATALOG_PORTS, INSTANCE_PORTS (and S3_EMBEDDED_PORTS,
# POOLING_PORTS, DOWNLOAD_PORT when it wants them) before sourcing; whatever it leaves unset comes
# from one block of KEEL_BENCH_PORTS (24200): catalog +0..4, embedded S3 +5..9, poolers +10..19,
# instances +20..99, downloads +100; API port KEEL_BENCH_API_PORT (5495). All below Linux's
# ephemeral range (32768-60999), clear of Keel's defaults and of the tests (26000+).
#
# Environment: KEEL_JAR (the jar to run; default <repo>/target/keel.jar, built with
# `mvn -q -Dmaven.test.skip=true package` when missing, older than HEAD's commit, or BUILD=1),
# KEEL_POSTGRES_INSTALL_DIR (where Keel unpacks Postgres, shared across runs: ~/.cache/keel-bench/
# postgres, /var/cache/keel-bench/postgres as root), KEEL_POSTGRES_OS_USER, PSQL,
# KEEL_BENCH_LOG_DIR (the files a benchmark lists in KEEP are copied there on exit).
#
# bench_init makes WORK, a temporary directory under /tmp every user can traverse, and the exit
# trap: hooks registered with at_exit (last first), Keel and `keel.jar stop`, S3Proxy, any process
# whose command line still names WORK, the cgroups, the kept logs, then WORK is removed.

NAME=$(basename "$0")
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
PY=$BENCH_DIR/py
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
PSQL=${PSQL:-psql}
MAVEN=${KEEL_MAVEN_REPOSITORY:-https://repo.maven.apache.org/maven2}
API_PORT=${API_PORT:-${KEEL_BENCH_API_PORT:-5495}}
if [[ -z ${CATALOG_PORTS:-} ]]; then
    BASE=${KEEL_BENCH_PORTS:-24200}
    CATALOG_PORTS=$BASE-$((BASE + 4))
    S3_EMBEDDED_PORTS=${S3_EMBEDDED_PORTS-$((BASE + 5))-$((BASE + 9))}
    POOLING_PORTS=${POOLING_PORTS-$((BASE + 10))-$((BASE + 19))}
    INSTANCE_PORTS=${INSTANCE_PORTS:-$((BASE + 20))-$((BASE + 99))}
    DOWNLOAD_PORT=${DOWNLOAD_PORT-$((BASE + 100))}
fi
API=http://127.0.0.1:$API_PORT
export BENCH_NAME=$NAME PSQL PYTHONDONTWRITEBYTECODE=1

die() { echo "$NAME: $*" >&2; exit 1; }
say() { echo "$NAME: $*" >&2; }
now_ms() { date +%s%3N; }
bench_py() { python3 "$PY/$1.py" "${@:2}"; }     # bench_py SCRIPT ARGS...: ops/bench/py/SCRIPT.py
json() { python3 "$PY/tool.py" json "$1"; }        # json EXPR: EXPR of the JSON on stdin, as d
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
positive() {  # positive VAR...: dies unless each is a positive integer
    local v
    for v in "$@"; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"; done
}

json_field() {  # json_field NAME JSON: the first string value of "NAME" (flat JSON, no escaped quotes), without python
    if [[ $2 =~ \"$1\":\"([^\"]*)\" ]]; then
        local value=${BASH_REMATCH[1]}
        printf '%s' "${value//\\\//\/}"
    fi
}
json_number() {  # json_number NAME JSON: the first number (or null) value of "NAME"
    if [[ $2 =~ \"$1\":(null|-?[0-9][0-9.eE+-]*) ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    fi
}

# --- the run's directory and its cleanup ----------------------------------------------------------

WORK=
KEEP=()            # globs under WORK copied to KEEL_BENCH_LOG_DIR on exit
EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }

bench_init() {  # bench_init [TOOL...]: checks the tools, makes WORK (cwd from now on), sets the exit trap
    local tool
    for tool in curl java python3 pgrep "$PSQL" "$@"; do
        command -v "$tool" >/dev/null || die "$tool is required"
    done
    WORK=$(mktemp -d "/tmp/keel-bench-${NAME%.sh}.XXXXXX")
    chmod 755 "$WORK"            # the server user must traverse it
    cd "$WORK" || exit           # a cwd every user can reach (initdb, pg_ctl run as another user)
    mkdir -p "$WORK/results"
    export BENCH_WORK=$WORK
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

pids_of_run() { pgrep -f -- "$WORK/" || true; }  # every process whose command line names WORK: ours

bench_cleanup() {
    local rc=$? i left pid glob
    set +e
    trap '' INT TERM
    for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do "${EXIT_HOOKS[i]}"; done
    keel_stop
    s3proxy_stop
    left=$(pids_of_run)
    if [[ -n $left ]]; then
        say "processes of this run still alive after stopping; ending them:"
        ps -o pid=,args= -p "$(echo $left | tr ' ' ',')" >&2
        for pid in $left; do kill "$pid" 2>/dev/null; done
        sleep 2
        for pid in $(pids_of_run); do kill -9 "$pid" 2>/dev/null; done
    fi
    cgroups_remove
    if [[ -n ${KEEL_BENCH_LOG_DIR:-} && ${#KEEP[@]} -gt 0 ]]; then
        mkdir -p "$KEEL_BENCH_LOG_DIR"
        for glob in "${KEEP[@]}"; do cp -r "$WORK"/$glob "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null; done
    fi
    if [[ $rc -ne 0 && -n $KEEL_LOG && -f $KEEL_LOG ]]; then
        echo "--- last lines of Keel's log ($KEEL_LOG) ---" >&2
        tail -n 30 "$KEEL_LOG" >&2
    fi
    cd /
    rm -rf "$WORK"
    exit "$rc"
}

warn_ephemeral() {  # warn_ephemeral FIRST-LAST...: says which ranges overlap Linux's ephemeral ports
    local range lo hi
    [[ -r /proc/sys/net/ipv4/ip_local_port_range ]] || return 0
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    for range in "$@"; do
        [[ -n $range ]] || continue
        if (( ${range%-*} <= hi && ${range#*-} >= lo )); then
            say "warning: port range $range overlaps the ephemeral range $lo-$hi; a server may fail to bind its port"
        fi
    done
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- the jar -------------------------------------------------------------------------------------

keel_jar() {  # a private copy of the jar as $WORK/keel.jar: a rebuild of target/ cannot pull it from under the run
    local head_time attempt
    head_time=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)
    if [[ -z ${KEEL_JAR:-} ]] && [[ ${BUILD:-0} == 1 || ! -f $JAR_SRC || $(stat -c %Y "$JAR_SRC") -lt $head_time ]]; then
        say "building $JAR_SRC (missing, older than HEAD, or BUILD=1) ..."
        # Only the jar is needed: tests are not compiled (a test being edited meanwhile cannot break it).
        (cd "$REPO" && mvn -B -q -Dmaven.test.skip=true package >&2) || die "the build failed"   # stdout: the report only
    fi
    [[ -f $JAR_SRC ]] || die "$JAR_SRC does not exist"
    if [[ -z ${KEEL_JAR:-} && -n $(git -C "$REPO" status --porcelain -- src pom.xml 2>/dev/null) ]]; then
        say "warning: $REPO has uncommitted changes under src/ or pom.xml; the jar may not be HEAD's"
    fi
    # Someone else's build may be writing the jar right now: retry until the copy is a whole zip.
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        cp "$JAR_SRC" "$WORK/keel.jar" 2>/dev/null && python3 "$PY/tool.py" whole-zip "$WORK/keel.jar" 2>/dev/null && break
        (( attempt < 10 )) || die "could not copy a complete $JAR_SRC (is a build rewriting it?)"
        sleep 3
    done
    mkdir -p "$INSTALL_DIR"
    KEEL_VERSION="Keel at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
    [[ -z ${KEEL_JAR:-} ]] || KEEL_VERSION="Keel from $KEEL_JAR"
}

# --- Keel ----------------------------------------------------------------------------------------

KEEL_PID=
KEEL_DATA=
KEEL_SERVERS=
KEEL_LOG=
KEEL_JAVA_OPTS=()  # JVM options of the next start (a trust store)
KEEL_S3_ENV=()     # KEEL_S3_* of an external object store (s3proxy_start sets them)
# Keel gets none of the caller's KEEL_* variables (a KEEL_CATALOG_URL pointing at a real catalog
# must not leak in), only the ones set here.
KEEL_ENV=(env)
while IFS= read -r name; do KEEL_ENV+=(-u "$name"); done < <(compgen -e | grep '^KEEL_' || true)
KEEL_ENV+=("KEEL_POSTGRES_INSTALL_DIR=$INSTALL_DIR")
[[ -n ${KEEL_POSTGRES_OS_USER:-} ]] && KEEL_ENV+=("KEEL_POSTGRES_OS_USER=$KEEL_POSTGRES_OS_USER")

# keel_start DATA LOG [VAR=value ...]: Keel on the bench ports with data directory DATA (a fresh
# one, or one kept from a keel_kill), no warm pool unless a VAR says otherwise, in cgroup keel when
# cgroups_make made one; waits until it is healthy. Sets KEEL_PID, KEY, AUTH (curl arguments), CA,
# KEEL_SERVERS: where its instances live (as root Keel keeps them apart from DATA, in its server
# directory: here DATA-servers, inside WORK, so the cleanup finds and removes them).
keel_start() {
    KEEL_DATA=$1
    KEEL_LOG=$2
    shift 2
    port_free "$API_PORT" || die "port $API_PORT is taken; set KEEL_BENCH_API_PORT"
    KEEL_SERVERS=$KEEL_DATA
    [[ $(id -u) -ne 0 ]] || KEEL_SERVERS=$KEEL_DATA-servers
    local ports=(KEEL_SERVER_DIR="$KEEL_SERVERS" KEEL_CATALOG_PORTS="$CATALOG_PORTS" KEEL_INSTANCES_PORTS="$INSTANCE_PORTS")
    [[ -z ${S3_EMBEDDED_PORTS:-} ]] || ports+=(KEEL_S3_EMBEDDED_PORTS="$S3_EMBEDDED_PORTS")
    [[ -z ${POOLING_PORTS:-} ]] || ports+=(KEEL_POOLING_PORTS="$POOLING_PORTS")
    [[ -z ${DOWNLOAD_PORT:-} ]] || ports+=(KEEL_BACKUPS_DOWNLOAD_PORT="$DOWNLOAD_PORT")
    say "starting Keel on $API (data under $KEEL_DATA, Postgres binaries in $INSTALL_DIR) $* ..."
    cgroup keel
    "${IN_CG[@]}" "${KEEL_ENV[@]}" KEEL_DATA_DIR="$KEEL_DATA" KEEL_PORT="$API_PORT" "${ports[@]}" \
        KEEL_INSTANCES_POOL_SIZE=0 "${KEEL_S3_ENV[@]}" "$@" \
        java "${KEEL_JAVA_OPTS[@]}" -jar "$WORK/keel.jar" >>"$KEEL_LOG" 2>&1 &
    KEEL_PID=$!
    export BENCH_KEEL_PID=$KEEL_PID
    local deadline=$(( $(now_ms) + 900000 ))   # the first start may download and unpack Postgres
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null) == 200 ]]; do
        kill -0 "$KEEL_PID" 2>/dev/null || die "Keel exited during startup"
        (( $(now_ms) < deadline )) || die "Keel did not become healthy within 15 minutes"
        sleep 0.2
    done
    [[ -s $KEEL_DATA/admin-api-key ]] || die "no admin API key at $KEEL_DATA/admin-api-key"
    KEY=$(<"$KEEL_DATA/admin-api-key")
    export BENCH_AUTH=$KEY
    AUTH=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
    CA=$WORK/ca.pem
    curl -sf "$API/v1/ca.pem" -o "$CA" || die "no CA certificate at $API/v1/ca.pem"
}

keel_bench() {  # keel_bench [TOOL...]: bench_init (checking TOOLs too), the jar, one Keel on a fresh data directory under WORK
    bench_init "$@"
    keel_jar
    keel_start "$WORK/data" "$WORK/keel.log"
}

keel_kill() {  # stops Keel only: its Postgres servers keep running, as after an operator's restart
    if [[ -n $KEEL_PID ]] && kill -0 "$KEEL_PID" 2>/dev/null; then
        kill "$KEEL_PID"
        wait "$KEEL_PID" 2>/dev/null || true
    fi
    KEEL_PID=
}

keel_stop() {  # stops Keel and every server under its data directory (instances, catalog, S3Proxy)
    keel_kill
    [[ -n $KEEL_DATA && -d $KEEL_DATA ]] || return 0
    "${KEEL_ENV[@]}" KEEL_DATA_DIR="$KEEL_DATA" KEEL_SERVER_DIR="$KEEL_SERVERS" java -jar "$WORK/keel.jar" stop >/dev/null 2>&1 \
        || say "'keel.jar stop' failed; check for servers under $KEEL_SERVERS"
    if pgrep -f -- "-D $KEEL_SERVERS/" >/dev/null; then
        say "a Postgres server under $KEEL_SERVERS is still running:"
        pgrep -af -- "-D $KEEL_SERVERS/" >&2
    fi
}

# --- its API -------------------------------------------------------------------------------------

api() {  # api METHOD PATH [BODY]: prints the body, then a line with the status code
    local args=(-sS --max-time 10 -w '\n%{http_code}' -X "$1" "${AUTH[@]}")
    [[ -n ${3:-} ]] && args+=(-d "$3")
    curl "${args[@]}" "$API$2"
}
code_of() { printf '%s' "${1##*$'\n'}"; }
body_of() { printf '%s' "${1%$'\n'*}"; }
db_field() { curl -sf "${AUTH[@]}" "$API/v1/databases/$1" | json "$2"; }   # db_field ID EXPR

keel_create() {  # keel_create BODY: POST /v1/databases; prints the new database's id and name
    local response code body
    response=$(api POST /v1/databases "$1")
    code=$(code_of "$response")
    body=$(body_of "$response")
    [[ $code == 202 ]] || die "POST /v1/databases $1 answered $code: $body"
    printf '%s %s\n' "$(json_field id "$body")" "$(json_field name "$body")"
}

keel_wait_available() {  # keel_wait_available ID SECONDS: until the database is available; prints its JSON
    local body state deadline=$(( $(now_ms) + $2 * 1000 ))
    while :; do
        body=$(body_of "$(api GET "/v1/databases/$1")")
        state=$(json_field state "$body")
        case $state in
            available) printf '%s' "$body"; return ;;
            creating) ;;
            *) die "database $1 is '$state': $body" ;;
        esac
        (( $(now_ms) < deadline )) || die "database $1 not available after $2 s: $body"
        sleep 0.2
    done
}

provision() {  # provision BODY: prints the id, once the database is available (15 minutes at most)
    local id name
    read -r id name < <(keel_create "$1")
    keel_wait_available "$id" 900 >/dev/null
    echo "$id"
}

keel_delete() {  # keel_delete ID: DELETE, and wait until it is gone
    local response deadline=$(( $(now_ms) + 180000 ))
    response=$(api DELETE "/v1/databases/$1")
    [[ $(code_of "$response") == 202 ]] || die "DELETE /v1/databases/$1 answered $(code_of "$response"): $(body_of "$response")"
    until [[ $(code_of "$(api GET "/v1/databases/$1")") == 404 ]]; do
        (( $(now_ms) < deadline )) || die "database $1 not deleted after 180 s"
        sleep 0.2
    done
}

wait_op() {  # wait_op OPERATION_ID: its final state
    local state
    for _ in $(seq 1 36000); do
        state=$(curl -sf "${AUTH[@]}" "$API/v1/operations/$1" | json 'd["state"]')
        [[ $state != running ]] && { echo "$state"; return; }
        sleep 0.1
    done
    die "operation $1 did not finish"
}

# keel_database BODY: provisions a database (15 minutes at most) and waits for its first base
# backup; sets DB, KEEL_URL, KEEL_INSTANCE (its instance's directory: data/keel.conf, spool,
# postgresql.log) and KEEL_POSTMASTER (its pid).
keel_database() {
    local instance body
    read -r DB _ < <(keel_create "$1")
    body=$(keel_wait_available "$DB" 900)
    KEEL_URL=$(json_field url "$body")
    say "waiting for Keel's first backup of $DB ..."
    bench_py tool first-backup "$API" "$DB"
    read -r KEEL_POSTMASTER instance < <(postmaster_of "$(url_port "$KEEL_URL")") \
        || die "no server under $KEEL_SERVERS/instances listens on the port of $KEEL_URL"
    KEEL_INSTANCE=$KEEL_SERVERS/instances/$instance
    [[ -f $KEEL_INSTANCE/data/keel.conf ]] || die "no keel.conf under $KEEL_INSTANCE/data"
}

verified() { printf '%s&sslmode=verify-full&sslrootcert=%s' "$1" "$CA"; }   # a database url, checked against Keel's CA
url_port() { [[ $1 =~ @[^/@]*:([0-9]+)/ ]] && printf '%s' "${BASH_REMATCH[1]}"; }

# postmaster_of PORT: "pid instance_id" of the server under $KEEL_SERVERS/instances listening on
# PORT (the 4th line of postmaster.pid is its port).
postmaster_of() {
    local file dir
    for file in "$KEEL_SERVERS"/instances/*/data/postmaster.pid; do
        [[ -f $file ]] || continue
        if [[ $(sed -n 4p "$file") == "$1" ]]; then
            dir=${file%/data/postmaster.pid}
            printf '%s %s\n' "$(sed -n 1p "$file")" "${dir##*/}"
            return 0
        fi
    done
    return 1
}

source "$BENCH_DIR/lib/servers.sh"
