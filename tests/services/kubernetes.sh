#!/usr/bin/env bash
# A real Kubernetes API server (v1.20.2, built from Debian bookworm's `kubernetes` source
# package) on loopback for the kubernetes connector's tests. See
# /work/shared/docs/kubernetes-testing.md for how and why each step is done.
#
#   tests/services/kubernetes.sh build WORKDIR
#       Builds WORKDIR/bin/kube-apiserver and WORKDIR/bin/kube-controller-manager (4-8 min,
#       ~1.7 GB in WORKDIR: source, Go cache). Does nothing when both exist. Installs the
#       Debian packages it needs (golang-go dpkg-dev rsync jq make curl openssl etcd-server
#       golang-github-modern-go-reflect2-dev). The source package is fetched with a private
#       apt configuration (a deb-src list and lists/cache directories under WORKDIR/apt), so
#       /etc/apt is never edited; a trap removes that temporary apt state even on failure.
#       Log: WORKDIR/build.log. A lock (WORKDIR/.lock) makes a second build of the same
#       WORKDIR wait for the first and then skip.
#
#   tests/services/kubernetes.sh start WORKDIR RUNDIR
#       Starts etcd (127.0.0.1:12379, :12380 peer, :12381 metrics, data in RUNDIR/etcd-data),
#       kube-apiserver (https://127.0.0.1:16443, RBAC, token and client-certificate auth) and
#       kube-controller-manager (127.0.0.1:10257; controllers deployment, replicaset,
#       serviceaccount, serviceaccount-token, garbagecollector, namespace). Certificates and
#       the admin token are generated for this run only (RUNDIR/pki). Waits for /readyz = ok
#       and for the ServiceAccount default/default (the sign that the controllers work), then
#       writes
#         RUNDIR/admin.kubeconfig   token user "admin" (group system:masters), CA verified
#         RUNDIR/env                KEY=VALUE lines, see below
#         RUNDIR/{etcd,kube-apiserver,kube-controller-manager}.pid and .log
#       and prints "kubernetes: https://127.0.0.1:16443 ready in N s". Ports can be moved
#       with SERVO_KUBE_PORT, SERVO_ETCD_PORT (uses it and the next two),
#       SERVO_KCM_PORT. SERVO_KUBE_PORT=auto takes the first set of the five ports that is
#       free among 26443/22379-22381/20257, 27443/23379-23381/21257, ... (+1000 each, six
#       sets): CI uses it, so that clusters engineers run on this machine are no obstacle.
#       The start timeout is SERVO_KUBE_START_TIMEOUT (120 s).
#
#   tests/services/kubernetes.sh stop RUNDIR
#       Stops the controller-manager, the apiserver, etcd and any fake kubelet started with
#       RUNDIR (TERM, KILL after 10 s; it waits until each has exited, so the ports are free
#       when it returns). Keeps the logs, the kubeconfig, the env file and the certificates;
#       removes only the etcd data.
#
#   tests/services/kubernetes.sh kubelet RUNDIR NAMESPACE [--once] [--mode MODE]
#                                        [--selector LABEL_SELECTOR]
#       The "fake kubelet": there is no scheduler, no node and no kubelet, so pods stay
#       Pending until something writes their status. Every 0.3 s (or once, with --once) it
#       PATCHes (strategic merge) pods/status of every pod of NAMESPACE (only those matching
#       --selector, e.g. "opsani_role=tuning" or "opsani_role!=tuning", when given) that is
#       not being deleted and not already in the state MODE asks for (so a pod is written
#       once per state, and resourceVersions do not churn):
#         ready          phase Running, PodScheduled/Initialized/ContainersReady/Ready True,
#                        every container running and ready (the default). A Deployment's
#                        rollout then completes.
#         crashloop      phase Running, Ready False (ContainersNotReady), every container
#                        waiting with reason CrashLoopBackOff, restartCount 3, last state
#                        terminated (Error, exit code 1).
#         imagepull      phase Pending, Ready False, every container waiting with reason
#                        ImagePullBackOff, restartCount 0.
#         unschedulable  phase Pending, only the condition PodScheduled False, reason
#                        Unschedulable ("0/1 nodes are available: 1 Insufficient cpu."), no
#                        container statuses.
#       Runs until killed (TERM); its pid is kept in RUNDIR/kubelet.PID.pid while it runs, so
#       `stop` ends forgotten ones. To change the mode, kill it and start another. A pod
#       that was failing becomes ready when a `ready` kubelet sees it. Two kubelets with
#       disjoint selectors can run at once (a failing tuning pod next to a ready Deployment).
#       Pods of a rolling update are marked as they appear, so a rollout completes within
#       a second or two of a template change while a `ready` kubelet runs.
#
#   tests/services/kubernetes.sh metrics-server RUNDIR
#       Serves the resource metrics API (metrics.k8s.io/v1beta1) through the API server's
#       aggregation layer, as metrics-server does: starts tests/services/metrics_server.py
#       (TLS with a certificate from the run's CA; it requires the API server's front-proxy
#       client certificate), registers it with a Service kube-system/metrics-server without
#       selector, its Endpoints and the APIService v1beta1.metrics.k8s.io (caBundle: the run's
#       CA), and waits until the APIService's condition Available is True (60 s at most).
#       The API server was started with the aggregation-layer flags (--requestheader-*, a
#       front-proxy CA and client certificate in RUNDIR/pki, --enable-aggregator-routing so it
#       dials the Endpoints' address itself: there is no kube-proxy). The Endpoints cannot be
#       in 127.0.0.0/8 (the API server refuses loopback endpoints), so the server listens on
#       the machine's own global IPv4 address (`ip -4 addr show scope global`), which the
#       kernel routes over lo: the traffic stays on the host. It fails with a clear message
#       when the machine has none. Usage follows each pod's requests (metrics_server.py says
#       how). A second call replaces the first; `stop` ends it (RUNDIR/metrics-server.pid).
#
# RUNDIR/env (source it with `set -a; . RUNDIR/env; set +a`):
#   KUBECONFIG=RUNDIR/admin.kubeconfig
#   SERVO_KUBE_SERVER=https://127.0.0.1:16443
#   SERVO_KUBE_TOKEN=<the admin bearer token>
#   SERVO_KUBE_CA=RUNDIR/pki/ca.crt          the CA that signed the apiserver's certificate
#   SERVO_KUBE_CLIENT_CERT=RUNDIR/pki/client.crt, SERVO_KUBE_CLIENT_KEY=RUNDIR/pki/client.key
#                                            a client certificate (CN=servo-client,
#                                            O=system:masters) for certificate auth tests
#   SERVO_KUBE_RUNDIR=RUNDIR
#   SERVO_KUBE_SERVICES=<this script>         for the tests: `$SERVO_KUBE_SERVICES kubelet ...`
set -euo pipefail

script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

KUBE_PORT=${SERVO_KUBE_PORT:-16443}
ETCD_PORT=${SERVO_ETCD_PORT:-12379}
KCM_PORT=${SERVO_KCM_PORT:-10257}
START_TIMEOUT=${SERVO_KUBE_START_TIMEOUT:-120}

# The version the tarball's `git archive` values give (hack/lib/version.sh); without these
# ldflags /version says v0.0.0.
K8S_VERSION=v1.20.2
K8S_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56
# deployment and replicaset alone cannot create pods (ServiceAccount admission needs the
# serviceaccount controllers); garbagecollector removes ReplicaSets and pods of a deleted
# Deployment; namespace lets a namespace deletion finish. No nodelifecycle: no Node objects.
KCM_CONTROLLERS=deployment,replicaset,serviceaccount,serviceaccount-token,garbagecollector,namespace
BUILD_PACKAGES=(golang-go dpkg-dev rsync jq make curl openssl etcd-server
    golang-github-modern-go-reflect2-dev)

log()
{
    echo "kubernetes.sh: $*" >&2
}

die()
{
    log "$*"
    exit 1
}

usage()
{
    cat >&2 <<'USAGE'
usage: kubernetes.sh build WORKDIR
       kubernetes.sh start WORKDIR RUNDIR
       kubernetes.sh stop RUNDIR
       kubernetes.sh kubelet RUNDIR NAMESPACE [--once]
                             [--mode ready|crashloop|imagepull|unschedulable]
                             [--selector LABEL_SELECTOR]
       kubernetes.sh metrics-server RUNDIR
USAGE
    exit 2
}

absolute()
{
    mkdir -p "$1"
    (cd "$1" && pwd)
}

# ---- build --------------------------------------------------------------------------------

as_root()
{
    if ((EUID == 0)); then
        "$@"
    else
        sudo --preserve-env=DEBIAN_FRONTEND "$@"
    fi
}

# Installs what is missing of BUILD_PACKAGES. apt-get waits for a dpkg lock held by another
# apt (CI may install something else at the same time); when the package lists are missing
# or stale, it updates them once and retries.
install_packages()
{
    local missing=() p
    for p in "${BUILD_PACKAGES[@]}"; do
        if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) != installed ]]; then
            missing+=("$p")
        fi
    done
    ((${#missing[@]})) || return 0
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local opts=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    if ! as_root apt-get "${opts[@]}" install -y --no-install-recommends "${missing[@]}"; then
        as_root apt-get "${opts[@]}" update
        as_root apt-get "${opts[@]}" install -y --no-install-recommends "${missing[@]}"
    fi
}

# The URI of the machine's Debian archive: the first URIs: line of a deb822 entry for the
# bookworm suite (not -security), else a one-line `deb` entry, else deb.debian.org.
debian_uri()
{
    if [[ -n ${SERVO_K8S_DEB_URI:-} ]]; then
        echo "$SERVO_K8S_DEB_URI"
        return
    fi
    local uri=""
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' \
            /etc/apt/sources.list.d/debian.sources)
    fi
    if [[ -z $uri && -f /etc/apt/sources.list ]]; then
        uri=$(awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++)
                   if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# Downloads the bookworm `kubernetes` source package into the current directory with a
# private apt state under ./apt: its own sources list (deb-src only), lists and cache. The
# machine's /etc/apt/sources.list.d and /var/lib/apt/lists are not touched, so nothing can
# be left behind there, and a concurrent apt-get elsewhere is not disturbed.
fetch_source()
{
    local uri apt_dir=$PWD/apt
    uri=$(debian_uri)
    rm -rf "$apt_dir"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main" \
        >"$apt_dir/sources.list"
    local opts=(-q -o Acquire::Retries=3 -o "Dir::Etc::SourceList=$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=$apt_dir/parts" -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")
    echo "apt-get source kubernetes from $uri (private apt state in $apt_dir)"
    apt-get "${opts[@]}" update
    apt-get "${opts[@]}" source --download-only kubernetes
}

build_steps()
{
    local w=$1 t0=$SECONDS
    cd "$w"
    install_packages
    echo "[$((SECONDS - t0)) s] packages ok"
    fetch_source
    echo "[$((SECONDS - t0)) s] source downloaded: $(ls kubernetes_*.dsc)"
    rm -rf src gp
    # --no-check skips only the .dsc signature; apt checked the files' hashes against the
    # signed Sources index, and dpkg-source checks them against the .dsc.
    dpkg-source -x --no-check kubernetes_*.dsc src
    # The vendored reflect2 v1.0.1 segfaults with Go >= 1.18 (json-iterator uses it
    # everywhere); Debian's 1.0.2 has go_above_118.go.
    rm -rf src/vendor/github.com/modern-go/reflect2
    cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 \
        src/vendor/github.com/modern-go/reflect2
    export GOCACHE=$w/gocache CGO_ENABLED=0 GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local
    # pkg/generated/openapi/zz_generated.openapi.go is not in the tarball (uses rsync)
    (cd src && make gen_openapi)
    echo "[$((SECONDS - t0)) s] gen_openapi done"
    mkdir -p gp/src/k8s.io bin
    ln -sfn "$w/src" gp/src/k8s.io/kubernetes
    export GO111MODULE=off GOPATH=$w/gp
    local p=k8s.io/kubernetes/vendor/k8s.io ld="-s -w" kv c
    for kv in gitVersion=$K8S_VERSION gitMajor=1 gitMinor=20 gitCommit=$K8S_COMMIT \
        gitTreeState=archive "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
        ld="$ld -X $p/component-base/version.$kv -X $p/client-go/pkg/version.$kv"
    done
    cd gp/src/k8s.io/kubernetes
    for c in kube-apiserver kube-controller-manager; do
        # built under a temporary name: a half-written binary never counts as built
        go build -tags selinux,notest -ldflags "$ld" -o "$w/bin/.$c.tmp" "k8s.io/kubernetes/cmd/$c"
        mv -f "$w/bin/.$c.tmp" "$w/bin/$c"
        echo "[$((SECONDS - t0)) s] $c built"
    done
}

built()
{
    [[ -x $1/bin/kube-apiserver && -x $1/bin/kube-controller-manager ]]
}

cmd_build()
{
    local w
    w=$(absolute "$1")
    if built "$w"; then
        # what `start` needs (etcd-server, openssl, curl, jq) is in scripts/packages.txt: the
        # build tools (golang-go, ...) are not installed on a machine that reuses bin/
        log "already built: $w/bin (remove it to rebuild)"
        return 0
    fi
    exec 9>"$w/.lock"
    if ! flock -n 9; then
        log "another build of $w is running; waiting for it"
        flock 9
    fi
    if built "$w"; then
        log "built by the other run: $w/bin"
        return 0
    fi
    local started=$SECONDS rc=0
    log "building kube-apiserver and kube-controller-manager $K8S_VERSION in $w" \
        "(log: $w/build.log; 4-8 min)"
    # the temporary apt state goes whatever happens (a trap, since `set -e` may leave early)
    trap 'rm -rf "$w/apt"' EXIT
    # not `(...) || rc=$?`: errexit would be off inside the subshell then
    set +e
    (
        set -e
        build_steps "$w"
    ) >"$w/build.log" 2>&1
    rc=$?
    set -e
    rm -rf "$w/apt"
    trap - EXIT
    if ((rc == 0)) && ! built "$w"; then
        echo "the binaries are missing after the build" >>"$w/build.log"
        rc=1
    fi
    if ((rc != 0)); then
        log "build FAILED (rc $rc) after $((SECONDS - started)) s; the end of $w/build.log:"
        tail -n 40 "$w/build.log" >&2
        return 1
    fi
    local version
    version=$("$w/bin/kube-apiserver" --version 2>&1) || {
        log "the new kube-apiserver does not run: $version"
        return 1
    }
    log "built in $((SECONDS - started)) s: $version"
}

# ---- start / stop -------------------------------------------------------------------------

port_in_use()
{
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# SERVO_KUBE_PORT=auto: the first set (apiserver, etcd x3, controller-manager) all free.
pick_ports()
{
    local k port free
    for ((k = 0; k < 6; k++)); do
        free=1
        for port in $((26443 + 1000 * k)) $((22379 + 1000 * k)) $((22380 + 1000 * k)) \
            $((22381 + 1000 * k)) $((20257 + 1000 * k)); do
            if port_in_use "$port"; then
                free=0
                break
            fi
        done
        if ((free)); then
            KUBE_PORT=$((26443 + 1000 * k))
            ETCD_PORT=$((22379 + 1000 * k))
            KCM_PORT=$((20257 + 1000 * k))
            return 0
        fi
    done
    return 1
}

# A process we started, still running: the pid in FILE is alive and runs NAME.
pid_alive()
{
    local file=$1 name=$2 pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"
}

# Stops the process whose pid is in FILE (if it still runs NAME) and waits until it is gone.
stop_pid()
{
    local file=$1 name=$2 pid i
    if pid_alive "$file" "$name"; then
        pid=$(<"$file")
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [[ -d /proc/$pid ]] || break
            # a zombie (our own child) has exited already
            [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
            sleep 0.1
        done
        if [[ -d /proc/$pid ]] && [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]
        then
            log "$name (pid $pid) did not stop within 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            while [[ -d /proc/$pid && $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]
            do
                sleep 0.1
            done
        fi
    fi
    rm -f "$file"
}

make_pki()
{
    local pki=$1
    mkdir -p "$pki"
    local rc
    # errexit must hold inside the subshell: no `(...) || ...` around it
    set +e
    (
        set -e
        cd "$pki"
        umask 077
        # ECDSA P-256 keys: instant to generate (RSA took most of the 3.4 s the doc measured)
        openssl ecparam -name prime256v1 -genkey -noout -out ca.key
        openssl req -x509 -new -key ca.key -days 30 -subj "/CN=servo-test-ca" -out ca.crt
        openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key
        openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
        local san="IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.0.0.1"
        printf '%s\n' "subjectAltName=$san" "extendedKeyUsage=serverAuth" >apiserver.ext
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile apiserver.ext -out apiserver.crt
        openssl ecparam -name prime256v1 -genkey -noout -out client.key
        openssl req -new -key client.key -subj "/O=system:masters/CN=servo-client" -out client.csr
        echo "extendedKeyUsage=clientAuth" >client.ext
        openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile client.ext -out client.crt
        openssl ecparam -name prime256v1 -genkey -noout -out sa.key
        openssl ec -in sa.key -pubout -out sa.pub
        # the aggregation layer: the API server proxies to extension API servers (the test
        # metrics server) with this client certificate, which they check against this CA
        openssl ecparam -name prime256v1 -genkey -noout -out front-proxy-ca.key
        openssl req -x509 -new -key front-proxy-ca.key -days 30 -subj "/CN=servo-front-proxy-ca" \
            -out front-proxy-ca.crt
        openssl ecparam -name prime256v1 -genkey -noout -out front-proxy-client.key
        openssl req -new -key front-proxy-client.key -subj "/CN=front-proxy-client" \
            -out front-proxy-client.csr
        openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt \
            -CAkey front-proxy-ca.key -CAcreateserial -days 30 -extfile client.ext \
            -out front-proxy-client.crt
        rm -f ./*.csr ./*.ext ./*.srl
        chmod 644 ca.crt apiserver.crt client.crt sa.pub front-proxy-ca.crt front-proxy-client.crt
    ) >"$pki/openssl.log" 2>&1
    rc=$?
    set -e
    if ((rc != 0)); then
        cat "$pki/openssl.log" >&2
        die "could not make the certificates"
    fi
}

# Waits until `cond` (a function name) succeeds, the process in PIDFILE is alive, at most
# until the deadline.
# A process we just started is running: unlike pid_alive, this does not look at its command
# line, which is still the shell's until the background child has exec'd.
process_running()
{
    local pid state
    [[ -f $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
    state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z ]]
}

wait_for()
{
    local what=$1 cond=$2 pidfile=$3 name=$4 deadline=$5 logfile=$6
    until "$cond"; do
        if ! process_running "$pidfile"; then
            log "$name exited while waiting for $what; the end of $logfile:"
            tail -n 30 "$logfile" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "timed out waiting for $what; the end of $logfile:"
            tail -n 30 "$logfile" >&2
            return 1
        fi
        sleep 0.1
    done
}

cmd_start()
{
    local w=$1 run
    w=$(cd "$w" 2>/dev/null && pwd) || die "no such build directory: $1"
    built "$w" || die "not built: run \`$script build $w\` first"
    run=$(absolute "$2")
    [[ $run != *[[:space:]]* ]] || die "RUNDIR must not contain spaces: $run"
    command -v etcd >/dev/null || die "etcd is not installed (Debian: etcd-server)"
    local f
    for f in etcd kube-apiserver kube-controller-manager; do
        if pid_alive "$run/$f.pid" "$f"; then
            die "$f already runs from $run (pid $(<"$run/$f.pid")); stop it first"
        fi
    done
    if [[ $KUBE_PORT == auto ]]; then
        pick_ports || die "no free set of ports (26443/22379/20257 + k*1000, k < 6)"
    fi
    local port
    for port in "$ETCD_PORT" $((ETCD_PORT + 1)) $((ETCD_PORT + 2)) "$KUBE_PORT" "$KCM_PORT"; do
        if port_in_use "$port"; then
            die "127.0.0.1:$port is already in use (another cluster? \`$script stop RUNDIR\`)"
        fi
    done
    local started=$SECONDS deadline=$((SECONDS + START_TIMEOUT))
    rm -rf "$run/etcd-data" "$run/pki" "$run/certs" "$run/cm-certs" "$run/env"
    make_pki "$run/pki"
    local pki=$run/pki token server=https://127.0.0.1:$KUBE_PORT
    token=$(openssl rand -hex 24)
    (
        umask 077
        echo "$token,admin,admin-uid,system:masters" >"$pki/tokens.csv"
    )

    etcd --name default --data-dir "$run/etcd-data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
        --initial-cluster "default=http://127.0.0.1:$((ETCD_PORT + 1))" \
        --listen-metrics-urls "http://127.0.0.1:$((ETCD_PORT + 2))" \
        </dev/null >"$run/etcd.log" 2>&1 &
    echo $! >"$run/etcd.pid"
    etcd_ok()
    {
        curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1
    }
    wait_for "etcd" etcd_ok "$run/etcd.pid" etcd "$deadline" "$run/etcd.log" || {
        cmd_stop "$run"
        return 1
    }

    "$w/bin/kube-apiserver" \
        --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
        --bind-address=127.0.0.1 --secure-port="$KUBE_PORT" --insecure-port=0 \
        --advertise-address=127.0.0.1 \
        --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
        --client-ca-file="$pki/ca.crt" --cert-dir="$run/certs" \
        --token-auth-file="$pki/tokens.csv" --authorization-mode=RBAC \
        --service-account-issuer=https://kubernetes.default.svc \
        --service-account-key-file="$pki/sa.pub" \
        --service-account-signing-key-file="$pki/sa.key" \
        --api-audiences=https://kubernetes.default.svc \
        --service-cluster-ip-range=10.0.0.0/24 \
        --allow-privileged=true --endpoint-reconciler-type=none \
        --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
        --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User \
        --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$pki/front-proxy-client.crt" \
        --proxy-client-key-file="$pki/front-proxy-client.key" \
        --enable-aggregator-routing=true \
        </dev/null >"$run/kube-apiserver.log" 2>&1 &
    echo $! >"$run/kube-apiserver.pid"
    # anonymous /readyz is allowed under RBAC once the bootstrap roles exist; the CA is
    # checked (--cacert), so this also proves the certificate chain the clients will use
    apiserver_ok()
    {
        [[ $(curl -sS --max-time 2 --cacert "$pki/ca.crt" "$server/readyz" 2>/dev/null) == ok ]]
    }
    wait_for "kube-apiserver /readyz" apiserver_ok "$run/kube-apiserver.pid" kube-apiserver \
        "$deadline" "$run/kube-apiserver.log" || {
        cmd_stop "$run"
        return 1
    }
    local api_ready=$((SECONDS - started))

    (
        umask 077
        cat >"$run/admin.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
KUBECONFIG
    )

    "$w/bin/kube-controller-manager" \
        --kubeconfig="$run/admin.kubeconfig" \
        --authentication-kubeconfig="$run/admin.kubeconfig" \
        --authorization-kubeconfig="$run/admin.kubeconfig" \
        --controllers="$KCM_CONTROLLERS" \
        --use-service-account-credentials=false \
        --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
        --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --port=0 \
        --cert-dir="$run/cm-certs" --leader-elect=false \
        </dev/null >"$run/kube-controller-manager.log" 2>&1 &
    echo $! >"$run/kube-controller-manager.pid"
    # the controllers work once the serviceaccount controller has made default/default
    sa_ok()
    {
        curl -fsS --max-time 2 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" \
            "$server/api/v1/namespaces/default/serviceaccounts/default" >/dev/null 2>&1
    }
    wait_for "the default ServiceAccount" sa_ok "$run/kube-controller-manager.pid" \
        kube-controller-manager "$deadline" "$run/kube-controller-manager.log" || {
        cmd_stop "$run"
        return 1
    }

    cat >"$run/env" <<ENV
KUBECONFIG=$run/admin.kubeconfig
SERVO_KUBE_SERVER=$server
SERVO_KUBE_TOKEN=$token
SERVO_KUBE_CA=$pki/ca.crt
SERVO_KUBE_CLIENT_CERT=$pki/client.crt
SERVO_KUBE_CLIENT_KEY=$pki/client.key
SERVO_KUBE_RUNDIR=$run
SERVO_KUBE_SERVICES=$script
ENV
    chmod 600 "$run/env"
    log "$server ready in $((SECONDS - started)) s (apiserver /readyz at ${api_ready} s);" \
        "env: $run/env"
}

cmd_stop()
{
    local run=$1 f
    [[ -d $run ]] || return 0
    for f in "$run"/kubelet.*.pid; do
        [[ -e $f ]] && stop_pid "$f" kubernetes.sh
    done
    stop_pid "$run/metrics-server.pid" metrics_server.py
    stop_pid "$run/kube-controller-manager.pid" kube-controller-manager
    stop_pid "$run/kube-apiserver.pid" kube-apiserver
    stop_pid "$run/etcd.pid" etcd
    rm -rf "$run/etcd-data"
    return 0
}

# ---- the fake kubelet ---------------------------------------------------------------------

# jq programs: `select_pods` keeps the pods to patch (not being deleted, not yet in the
# state of $mode); `status_body` builds the strategic-merge patch of pods/status for one pod.
# shellcheck disable=SC2016 # jq programs, not shell
JQ_SELECT='
  def cond($t): [.status.conditions[]? | select(.type == $t)][0].status // "";
  def waiting($r): ([.status.containerStatuses[]? | .state.waiting.reason // ""] | length > 0)
      and all(.status.containerStatuses[]?; .state.waiting.reason == $r);
  .items[] | select(.metadata.deletionTimestamp == null)
  | select(if $mode == "ready" then cond("Ready") != "True"
           elif $mode == "crashloop" then waiting("CrashLoopBackOff") | not
           elif $mode == "imagepull" then waiting("ImagePullBackOff") | not
           else cond("PodScheduled") != "False" end)
  | @base64'
# shellcheck disable=SC2016
JQ_BODY='
  def c($t; $s): {type: $t, status: $s, lastTransitionTime: $now, reason: null, message: null};
  def c($t; $s; $r; $m): c($t; $s) + {reason: $r, message: $m};
  def notready: c("Initialized"; "True"),
      c("Ready"; "False"; "ContainersNotReady";
        "containers with unready status: [\([.spec.containers[].name] | join(" "))]"),
      c("ContainersReady"; "False"; "ContainersNotReady";
        "containers with unready status: [\([.spec.containers[].name] | join(" "))]");
  . as $pod
  | if $mode == "ready" then
      {status: {phase: "Running", startTime: $now,
        conditions: [c("PodScheduled"; "True"), c("Initialized"; "True"), c("Ready"; "True"),
                     c("ContainersReady"; "True")],
        containerStatuses: [.spec.containers[] | {name, image, imageID: "", ready: true,
          started: true, restartCount: 0, state: {running: {startedAt: $now}}}]}}
    elif $mode == "crashloop" then
      {status: {phase: "Running", startTime: $now,
        conditions: [c("PodScheduled"; "True"), notready],
        containerStatuses: [.spec.containers[] | {name, image, imageID: "", ready: false,
          started: false, restartCount: 3,
          state: {waiting: {reason: "CrashLoopBackOff",
            message: ("back-off 40s restarting failed container=\(.name) pod=" +
              "\($pod.metadata.name)_\($pod.metadata.namespace)(\($pod.metadata.uid))")}},
          lastState: {terminated: {exitCode: 1, reason: "Error", startedAt: $now,
            finishedAt: $now}}}]}}
    elif $mode == "imagepull" then
      {status: {phase: "Pending", startTime: $now,
        conditions: [c("PodScheduled"; "True"), notready],
        containerStatuses: [.spec.containers[] | {name, image, imageID: "", ready: false,
          started: false, restartCount: 0,
          state: {waiting: {reason: "ImagePullBackOff",
            message: "Back-off pulling image \"\(.image)\""}}}]}}
    else
      {status: {phase: "Pending", startTime: null, containerStatuses: null,
        conditions: [c("PodScheduled"; "False"; "Unschedulable";
          "0/1 nodes are available: 1 Insufficient cpu."),
          {type: "Initialized", "$patch": "delete"}, {type: "Ready", "$patch": "delete"},
          {type: "ContainersReady", "$patch": "delete"}]}}
    end'

cmd_kubelet()
{
    local run=$1 ns=$2 once=0 mode=ready selector=""
    shift 2
    while (($#)); do
        case $1 in
        --once) once=1 ;;
        --selector)
            (($# >= 2)) || usage
            selector=$2
            shift
            ;;
        --selector=*) selector=${1#--selector=} ;;
        --mode)
            (($# >= 2)) || usage
            mode=$2
            shift
            ;;
        --mode=*) mode=${1#--mode=} ;;
        *) usage ;;
        esac
        shift
    done
    case $mode in
    ready | crashloop | imagepull | unschedulable) ;;
    *) die "unknown kubelet mode \"$mode\" (ready, crashloop, imagepull, unschedulable)" ;;
    esac
    [[ -f $run/env ]] || die "no $run/env: is the cluster started?"
    local server token ca
    server=$(sed -n 's/^SERVO_KUBE_SERVER=//p' "$run/env")
    token=$(sed -n 's/^SERVO_KUBE_TOKEN=//p' "$run/env")
    ca=$(sed -n 's/^SERVO_KUBE_CA=//p' "$run/env")
    local curl_args=(-sS --max-time 10 --cacert "$ca" -H "Authorization: Bearer $token")
    if ((!once)); then
        echo $$ >"$run/kubelet.$$.pid"
        trap 'rm -f "$run/kubelet.$$.pid"; exit 0' TERM INT
        trap 'rm -f "$run/kubelet.$$.pid"' EXIT
    fi
    local list=$server/api/v1/namespaces/$ns/pods
    if [[ -n $selector ]]; then
        list+="?labelSelector=$(jq -rn --arg s "$selector" '$s | @uri')"
    fi
    local pods pod name now body code
    while :; do
        if pods=$(curl "${curl_args[@]}" -f "$list"); then
            now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
            while IFS= read -r pod; do
                [[ -n $pod ]] || continue
                pod=$(base64 -d <<<"$pod")
                name=$(jq -r .metadata.name <<<"$pod")
                body=$(jq -c --arg mode "$mode" --arg now "$now" "$JQ_BODY" <<<"$pod")
                code=$(curl "${curl_args[@]}" -o /dev/null -w '%{http_code}' -X PATCH \
                    -H 'Content-Type: application/strategic-merge-patch+json' \
                    --data "$body" "$server/api/v1/namespaces/$ns/pods/$name/status") || true
                # 404: deleted meanwhile; anything else is worth a line on stderr
                [[ $code == 200 || $code == 404 ]] || log "kubelet: PATCH $ns/$name/status: $code"
            done < <(jq -r --arg mode "$mode" "$JQ_SELECT" <<<"$pods")
        elif ((once)); then
            die "kubelet: cannot list the pods of $ns"
        fi
        ((once)) && return 0
        sleep 0.3
    done
}

# ---- the metrics API (aggregated) ---------------------------------------------------------

# The machine's first global IPv4 address. The API server refuses Endpoints in 127.0.0.0/8
# ("may not be in the loopback range"), so the test metrics server listens on this address
# instead; the kernel delivers traffic to the machine's own address over lo, so nothing
# leaves the host.
host_address()
{
    ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'
}

# curl against the API server as admin: METHOD PATH [JSON]; prints the body, fails on >= 400
# (except a 404 on DELETE).
kube_api()
{
    local method=$1 path=$2 body=${3:-} code out
    out=$(mktemp)
    code=$(curl -sS --max-time 10 --cacert "$SERVO_KUBE_CA" \
        -H "Authorization: Bearer $SERVO_KUBE_TOKEN" -H 'Content-Type: application/json' \
        -X "$method" ${body:+--data-binary "$body"} -o "$out" -w '%{http_code}' \
        "$SERVO_KUBE_SERVER$path") || code=000
    cat "$out"
    rm -f "$out"
    [[ $code == 2* || ($method == DELETE && $code == 404) ]] || {
        log "$method $path: HTTP $code"
        return 1
    }
}

cmd_metrics_server()
{
    local run
    run=$(absolute "$1")
    [[ -f $run/env ]] || die "no cluster runs from $run (no $run/env): \`$script start\` first"
    set -a
    # shellcheck disable=SC1091
    . "$run/env"
    set +a
    local pki=$run/pki ip port
    ip=$(host_address)
    [[ -n $ip ]] || die "no global IPv4 address on this machine: the API server refuses" \
        "loopback Endpoints, so the metrics server needs the machine's own address"
    if pid_alive "$run/metrics-server.pid" metrics_server.py; then
        stop_pid "$run/metrics-server.pid" metrics_server.py
    fi
    port=$(python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$ip")
    (
        set -e
        cd "$pki"
        umask 077
        openssl ecparam -name prime256v1 -genkey -noout -out metrics-server.key
        openssl req -new -key metrics-server.key -subj "/CN=metrics-server" -out ms.csr
        printf '%s\n' "subjectAltName=IP:$ip,DNS:metrics-server.kube-system.svc" \
            "extendedKeyUsage=serverAuth" >ms.ext
        openssl x509 -req -in ms.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile ms.ext -out metrics-server.crt
        rm -f ms.csr ms.ext ca.srl
        echo "$SERVO_KUBE_TOKEN" >metrics-server.token
    ) >>"$pki/openssl.log" 2>&1 || die "could not make the metrics server's certificate"
    local source_dir
    source_dir=$(cd "$(dirname "$script")/../.." && pwd)
    python3 "$(dirname "$script")/metrics_server.py" --listen "$ip:$port" \
        --cert "$pki/metrics-server.crt" --key "$pki/metrics-server.key" \
        --client-ca "$pki/front-proxy-ca.crt" --api "$SERVO_KUBE_SERVER" \
        --token-file "$pki/metrics-server.token" --ca "$SERVO_KUBE_CA" \
        --fixture "$source_dir/tests/fixtures/metrics-server/pod_metrics_list.json" \
        </dev/null >"$run/metrics-server.log" 2>&1 &
    echo $! >"$run/metrics-server.pid"
    local ca_bundle
    ca_bundle=$(base64 -w0 "$SERVO_KUBE_CA")
    kube_api DELETE /apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io >/dev/null
    kube_api DELETE /api/v1/namespaces/kube-system/services/metrics-server >/dev/null
    kube_api DELETE /api/v1/namespaces/kube-system/endpoints/metrics-server >/dev/null
    kube_api POST /api/v1/namespaces/kube-system/services "{\"apiVersion\": \"v1\",
        \"kind\": \"Service\", \"metadata\": {\"name\": \"metrics-server\"},
        \"spec\": {\"ports\": [{\"name\": \"https\", \"port\": 443, \"targetPort\": $port}]}}" \
        >/dev/null || die "could not create the Service kube-system/metrics-server"
    kube_api POST /api/v1/namespaces/kube-system/endpoints "{\"apiVersion\": \"v1\",
        \"kind\": \"Endpoints\", \"metadata\": {\"name\": \"metrics-server\"},
        \"subsets\": [{\"addresses\": [{\"ip\": \"$ip\"}],
                       \"ports\": [{\"name\": \"https\", \"port\": $port}]}]}" \
        >/dev/null || die "could not create the Endpoints kube-system/metrics-server"
    kube_api POST /apis/apiregistration.k8s.io/v1/apiservices "{
        \"apiVersion\": \"apiregistration.k8s.io/v1\", \"kind\": \"APIService\",
        \"metadata\": {\"name\": \"v1beta1.metrics.k8s.io\"},
        \"spec\": {\"group\": \"metrics.k8s.io\", \"version\": \"v1beta1\",
                   \"service\": {\"namespace\": \"kube-system\", \"name\": \"metrics-server\",
                                 \"port\": 443},
                   \"caBundle\": \"$ca_bundle\", \"groupPriorityMinimum\": 100,
                   \"versionPriority\": 100}}" \
        >/dev/null || die "could not create the APIService v1beta1.metrics.k8s.io"
    local deadline=$((SECONDS + 60)) available=""
    until [[ $available == True ]]; do
        if ! process_running "$run/metrics-server.pid"; then
            tail -n 20 "$run/metrics-server.log" >&2
            die "the metrics server exited"
        fi
        if ((SECONDS >= deadline)); then
            kube_api GET /apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io |
                jq -c '.status' >&2 || true
            die "the APIService v1beta1.metrics.k8s.io did not become Available within 60 s"
        fi
        sleep 0.2
        available=$(kube_api GET /apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io |
            jq -r '[.status.conditions[]? | select(.type == "Available")][0].status // ""') ||
            available=""
    done
    # Available is the availability controller's verdict; the aggregator's proxy for the group
    # is registered by another controller, a moment later: until then the API server answers
    # 404. Done when a request through the API server reaches the metrics server.
    until kube_api GET /apis/metrics.k8s.io/v1beta1 >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "the APIService v1beta1.metrics.k8s.io is Available but the API server does" \
                "not route /apis/metrics.k8s.io/v1beta1 to it within 60 s"
        fi
        sleep 0.2
    done
    log "metrics API v1beta1.metrics.k8s.io Available: the test metrics server at $ip:$port" \
        "(pid $(<"$run/metrics-server.pid"), log $run/metrics-server.log)"
}

(($# >= 1)) || usage
case $1 in
build)
    (($# == 2)) || usage
    cmd_build "$2"
    ;;
start)
    (($# == 3)) || usage
    cmd_start "$2" "$3"
    ;;
stop)
    (($# == 2)) || usage
    cmd_stop "$2"
    ;;
kubelet)
    (($# >= 3)) || usage
    cmd_kubelet "$2" "$3" "${@:4}"
    ;;
metrics-server)
    (($# == 2)) || usage
    cmd_metrics_server "$2"
    ;;
*) usage ;;
esac
