#!/usr/bin/env bash
# Local Kubernetes control plane for Servicebay's tests and local runs:
# a real etcd, kube-apiserver, kube-controller-manager and kube-scheduler,
# plus kwok simulating one Node, all on 127.0.0.1.
#
#   cluster.sh build    build (once) and cache the binaries; prints the time taken
#   cluster.sh start    build if needed, then start everything (idempotent);
#                       prints the kubeconfig path as the last line of stdout
#   cluster.sh stop     stop everything and remove the state directory
#   cluster.sh status   exit 0 when running and ready, 1 otherwise
#   cluster.sh env      print `export KUBECONFIG=...`
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 cannot build (Go missing or the
# build failed): callers may then run without Kubernetes.
#
# Environment:
#   SERVICEBAY_CACHE        cache root (default ~/.cache/servicebay); binaries
#                           live in k8s/<version>/bin
#   SERVICEBAY_CLUSTER_DIR  state of the running cluster (default <repo>/.cluster):
#                           kubeconfig, pki/, logs/, *.pid, ports.env
set -euo pipefail

K8S_VERSION=v1.37.2          # k8s.io/kubernetes; must match build/go.mod
ETCD_VERSION=v3.7.0          # go.etcd.io/etcd/server/v3; must match build/go.mod
KWOK_VERSION=v0.8.0          # sigs.k8s.io/kwok (go 1.26 line)
GATEWAY_API_VERSION=v1.6.3   # sigs.k8s.io/gateway-api (v1.7 needs go 1.27)

EXIT_CANNOT_BUILD=3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${SERVICEBAY_CACHE:-$HOME/.cache/servicebay}
VDIR=$CACHE/k8s/$K8S_VERSION
BIN=$VDIR/bin
GWDIR=$CACHE/gateway-api/$GATEWAY_API_VERSION
DIR=${SERVICEBAY_CLUSTER_DIR:-$REPO/.cluster}
KUBECONFIG_PATH=$DIR/kubeconfig
NODE_NAME=kwok-node-0
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
KWOK_STAGES=(node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease
             pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete)

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-1}"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ----------------------------------------------------------------------- build

build_stamp() {
  {
    echo "$K8S_VERSION $ETCD_VERSION $KWOK_VERSION ${KWOK_STAGES[*]}"
    cat "$HERE/build/go.mod" "$HERE/build/go.sum" "$HERE"/build/cmd/*/main.go
  } | sha256sum | cut -d' ' -f1
}

is_built() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x $BIN/$b ]] || return 1; done
  [[ -f $BIN/kwok-stages.yaml && -f $BIN/.stamp ]] || return 1
  [[ $(cat "$BIN/.stamp") == "$(build_stamp)" ]]
}

cannot_build() {
  [[ -n ${TMPBIN:-} ]] && rm -rf "$TMPBIN"
  die "cannot build the local Kubernetes control plane: $1" $EXIT_CANNOT_BUILD
}

cmd_build() {
  local t0
  t0=$(now)
  if ! is_built && command -v flock >/dev/null 2>&1; then
    mkdir -p "$CACHE/locks"
    exec 8>"$CACHE/locks/build-$K8S_VERSION.lock"
    flock 8  # another build of this version may be running: wait for it
  fi
  if ! is_built; then
    build_binaries
  fi
  if [[ ! -d $GWDIR/standard ]]; then
    fetch_gateway_api
  fi
  log "Kubernetes $K8S_VERSION binaries ready in $BIN (build: $(elapsed "$t0")s)"
}

need_go() {
  command -v go >/dev/null 2>&1 || cannot_build "Go is not installed (Go >= 1.26 is needed)"
  # The build module's `go` line may ask for a newer Go than the machine's:
  # let the go command fetch that toolchain through the module proxy.
  export GOTOOLCHAIN=${SERVICEBAY_GOTOOLCHAIN:-auto} GOFLAGS=-buildvcs=false
  mkdir -p "$VDIR"
}

build_binaries() {
  need_go
  local blog=$VDIR/build.log ver ldflags="-s -w" p b bt
  TMPBIN=$(mktemp -d "$VDIR/bin.tmp.XXXXXX")
  chmod 755 "$TMPBIN"
  : >"$blog"
  log "building Kubernetes $K8S_VERSION, etcd $ETCD_VERSION and kwok $KWOK_VERSION (~10 min the first time; log: $blog)"
  ver=${K8S_VERSION#v}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=${ver%%.*}"
    ldflags+=" -X $p.gitMinor=$(cut -d. -f2 <<<"$ver") -X $p.gitTreeState=clean"
  done
  # One binary at a time (2 cores): later ones reuse the build cache.
  for b in kube-apiserver kube-controller-manager kube-scheduler etcd; do
    bt=$(now)
    (cd "$HERE/build" && go build -trimpath -ldflags="$ldflags" -o "$TMPBIN/$b" "./cmd/$b") >>"$blog" 2>&1 ||
      { tail -n 20 "$blog" >&2; cannot_build "building $b failed (see $blog)"; }
    log "built $b in $(elapsed "$bt")s"
  done
  bt=$(now)
  (cd "$TMPBIN" && GOBIN=$TMPBIN go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") >>"$blog" 2>&1 ||
    { tail -n 20 "$blog" >&2; cannot_build "building kwok failed (see $blog)"; }
  log "built kwok in $(elapsed "$bt")s"
  # kwok's default stages (as kwokctl uses them): node init + lease heartbeat,
  # pod ready / complete (Job pods) / delete.
  local kdir s
  kdir=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION") || cannot_build "cannot download kwok's stages (see $blog)"
  for s in "${KWOK_STAGES[@]}"; do echo "---"; cat "$kdir/kustomize/stage/$s.yaml"; done >"$TMPBIN/kwok-stages.yaml"
  build_stamp >"$TMPBIN/.stamp"
  rm -rf "$BIN"
  mv "$TMPBIN" "$BIN"
  TMPBIN=
}

# The Gateway API standard-channel manifests, kept next to the binaries.
fetch_gateway_api() {
  need_go
  local gdir
  gdir=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION") ||
    cannot_build "cannot download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION (see $VDIR/build.log)"
  rm -rf "$GWDIR.tmp" && mkdir -p "$GWDIR.tmp"
  cp "$gdir"/config/crd/standard/*.yaml "$GWDIR.tmp/"
  mkdir -p "$GWDIR" && rm -rf "$GWDIR/standard" && mv "$GWDIR.tmp" "$GWDIR/standard"
}

# module_dir MODULE@VERSION: download a module through the proxy, print its directory.
module_dir() {
  (cd / && go mod download -json "$1" 2>>"$VDIR/build.log") |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' | grep .
}

# ----------------------------------------------------------------------- start

pid_alive() {  # pid_alive NAME: its recorded process is ours and alive
  local f=$DIR/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: our command lines all mention $DIR.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR"
}

api() {  # api METHOD PATH [curl args...]: call the API server as the admin user
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 10 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    -X "$method" "https://127.0.0.1:$APISERVER_PORT$path" "$@"
}

is_ready() {
  [[ -f $DIR/ports.env ]] || return 1
  # shellcheck disable=SC1091
  source "$DIR/ports.env"
  local c
  for c in "${BINARIES[@]}"; do pid_alive "$c" || return 1; done
  [[ $(api GET /readyz 2>/dev/null) == ok ]]
}

free_ports() {  # free_ports N: print N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

spawn() {  # spawn NAME BINARY ARGS...: start a component in the background
  local name=$1 bin=$2
  shift 2
  # Close the lock descriptors: a daemon holding them would block every later stop.
  setsid "$BIN/$bin" "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 8>&- 9>&- &
  echo $! >"$DIR/$name.pid"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll until COMMAND succeeds
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

make_pki() {
  local p=$DIR/pki
  mkdir -p "$p"
  (
    cd "$p"
    newkey() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
    sign() {  # sign NAME SUBJECT EXTENSIONS
      newkey "$1.key"
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      printf '%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    newkey ca.key
    openssl req -x509 -new -key ca.key -subj "/CN=servicebay-local-ca" -days 3650 -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    sign apiserver "/CN=kube-apiserver" \
      "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin "/O=system:masters/CN=servicebay-admin" \
      "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    newkey sa.key
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  local b64='base64 -w0'
  cat >"$KUBECONFIG_PATH.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: servicebay-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$p/ca.crt")
users:
- name: servicebay-admin
  user:
    client-certificate-data: $($b64 <"$p/admin.crt")
    client-key-data: $($b64 <"$p/admin.key")
contexts:
- name: servicebay-local
  context:
    cluster: servicebay-local
    user: servicebay-admin
current-context: servicebay-local
EOF
}

create_node() {
  local code
  code=$(api POST /api/v1/nodes -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d @- <<EOF
{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "$NODE_NAME",
   "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
   "labels": {"type": "kwok", "kubernetes.io/hostname": "$NODE_NAME", "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/agent": ""}},
 "spec": {},
 "status": {"allocatable": {"cpu": "1000", "memory": "4Ti", "pods": "5000"},
            "capacity": {"cpu": "1000", "memory": "4Ti", "pods": "5000"}}}
EOF
  )
  [[ $code == 201 || $code == 409 ]] || { log "creating node $NODE_NAME failed: HTTP $code"; return 1; }
}

# shellcheck disable=SC2317  # called through wait_for
node_ready() {
  api GET "/api/v1/nodes/$NODE_NAME" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'
}

# Install every object of the Gateway API standard channel (CRDs and the
# ValidatingAdmissionPolicy that guards against unsafe upgrades).
install_gateway_api() {
  local f doc kind path code
  local work=$DIR/gateway-api
  mkdir -p "$work"
  for f in "$GWDIR"/standard/*.yaml; do
    rm -f "$work"/doc-*
    awk -v out="$work/doc-" 'BEGIN { n = 0 } /^---[[:space:]]*$/ { n++; next } { print > (out n) }' "$f"
    for doc in "$work"/doc-*; do
      kind=$(sed -n 's/^kind: *//p' "$doc" | head -n1)
      case $kind in
        CustomResourceDefinition) path=/apis/apiextensions.k8s.io/v1/customresourcedefinitions ;;
        ValidatingAdmissionPolicy) path=/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies ;;
        ValidatingAdmissionPolicyBinding) path=/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings ;;
        "") continue ;;
        *) log "gateway-api: skipping unknown kind $kind in $f"; continue ;;
      esac
      code=$(api POST "$path" -o "$work/last-response" -w '%{http_code}' -H 'Content-Type: application/yaml' --data-binary @"$doc")
      [[ $code == 201 || $code == 409 ]] || { log "installing $f failed: HTTP $code: $(head -c 400 "$work/last-response")"; return 1; }
    done
  done
  rm -rf "$work"
}

# shellcheck disable=SC2317  # called through wait_for
gateway_api_served() {
  local out
  out=$(api GET /apis/gateway.networking.k8s.io/v1) || return 1
  grep -q '"name": *"httproutes"' <<<"$out" && grep -q '"name": *"gateways"' <<<"$out"
}

cmd_start() {
  if is_ready; then
    log "already running"
    echo "$KUBECONFIG_PATH"
    return 0
  fi
  [[ -d $DIR ]] && { log "cleaning up a stale cluster in $DIR"; cmd_stop; }
  cmd_build
  command -v openssl >/dev/null || die "openssl is needed to start the cluster"
  command -v curl >/dev/null || die "curl is needed to start the cluster"
  local t0
  t0=$(now)
  mkdir -p "$DIR/logs"
  local ports
  read -r -a ports <<<"$(free_ports 3)"
  ETCD_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]} APISERVER_PORT=${ports[2]}
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" >"$DIR/ports.env"
  echo "http://127.0.0.1:$ETCD_PORT" >"$DIR/etcd-endpoint"
  make_pki
  mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
  local p=$DIR/pki

  spawn etcd etcd --name servicebay --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "servicebay=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
  wait_for 30 "etcd" curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" ||
    { tail -n 20 "$DIR/logs/etcd.log" >&2; cmd_stop; die "etcd did not start (log above)"; }

  spawn kube-apiserver kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode RBAC \
    --endpoint-reconciler-type none \
    --allow-privileged=true \
    --profiling=false
  wait_for 90 "kube-apiserver /readyz" api GET /readyz --fail ||
    { tail -n 30 "$DIR/logs/kube-apiserver.log" >&2; cmd_stop; die "kube-apiserver did not become ready (log above)"; }

  spawn kube-controller-manager kube-controller-manager \
    --kubeconfig "$KUBECONFIG_PATH" --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --cluster-name servicebay --profiling=false
  spawn kube-scheduler kube-scheduler \
    --kubeconfig "$KUBECONFIG_PATH" --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --profiling=false
  spawn kwok kwok \
    --kubeconfig "$KUBECONFIG_PATH" --config "$BIN/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --cidr 10.244.0.1/16 --node-ip 10.244.0.1

  create_node || { cmd_stop; die "could not create the kwok node"; }
  install_gateway_api || { cmd_stop; die "could not install the Gateway API CRDs"; }
  wait_for 60 "node $NODE_NAME Ready (kwok)" node_ready ||
    { tail -n 20 "$DIR/logs/kwok.log" >&2; cmd_stop; die "the kwok node did not become Ready (log above)"; }
  wait_for 60 "Gateway API CRDs" gateway_api_served || { cmd_stop; die "the Gateway API CRDs were not served"; }
  local c
  for c in "${BINARIES[@]}"; do
    pid_alive "$c" || { tail -n 30 "$DIR/logs/$c.log" >&2; cmd_stop; die "$c exited during start (log above)"; }
  done
  log "started Kubernetes $K8S_VERSION at https://127.0.0.1:$APISERVER_PORT in $(elapsed "$t0")s (state: $DIR)"
  echo "$KUBECONFIG_PATH"
}

# ------------------------------------------------------------- stop and others

# terminate SECONDS NAME...: SIGTERM the named components, SIGKILL what is left after SECONDS.
terminate() {
  local wait=$1 c pid pids=() left i
  shift
  for c in "$@"; do
    if pid_alive "$c"; then
      pid=$(cat "$DIR/$c.pid")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((i = 0; i < wait * 5 && ${#pids[@]} > 0; i++)); do
    left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    pids=("${left[@]}")
    ((${#pids[@]} == 0)) || sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

cmd_stop() {
  # Clients first, then the API server, then etcd (the API server needs it to shut down cleanly).
  terminate 5 kwok kube-scheduler kube-controller-manager
  terminate 10 kube-apiserver
  terminate 5 etcd
  rm -rf "$DIR"
  log "stopped"
}

cmd_status() {
  if is_ready; then
    log "running and ready: https://127.0.0.1:$APISERVER_PORT (KUBECONFIG=$KUBECONFIG_PATH)"
    return 0
  fi
  log "not running"
  return 1
}

# lock_cluster: hold an exclusive lock on this state directory for the rest of
# this process, so concurrent starts (e.g. parallel test runs) wait for each other.
lock_cluster() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$CACHE/locks"
  exec 9>"$CACHE/locks/cluster-$(printf '%s' "$DIR" | sha256sum | cut -c1-16).lock"
  flock 9
}

main() {
  case "${1:-}" in
    build) cmd_build ;;
    start) lock_cluster; cmd_start ;;
    stop) lock_cluster; cmd_stop ;;
    status) cmd_status ;;
    env) echo "export KUBECONFIG=$KUBECONFIG_PATH" ;;
    *) echo "usage: $0 build|start|stop|status|env" >&2; return 2 ;;
  esac
}

main "$@"; exit $?
