/**
 * The policy set the fuzzer runs trustgate with, and the facts the oracle knows about it. Written for the fuzzer:
 * the oracle (oracle.ts) encodes what these policies promise, independently of how trustgate evaluates them.
 */

export const NAMESPACE = "shop";
export const DESTINATION = "spiffe://cluster.local/ns/shop/sa/api";
export const ORDER = "spiffe://cluster.local/ns/services/sa/order";
export const WEB = "spiffe://cluster.local/ns/frontend/sa/web";

/**
 * A second destination, whose only ALLOW rule mixes an entry a TCP connection can meet (port 5432, callers from
 * namespace shop) with HTTP-only ones (a path, request principals). istiod cannot generate that rule for a TCP filter
 * chain and skips all of it, so no TCP connection to the vault is allowed; over HTTP only callers from namespace shop
 * (JWTs are not forwarded here, so requestPrincipals never match) may be.
 */
export const VAULT_NAMESPACE = "vault";
export const VAULT = "spiffe://cluster.local/ns/vault/sa/store";
export const VAULT_PORT = 5432;
/** A header the vault's ALLOW rule requires ("acme"): a deny quotes its value in the reason. */
export const VAULT_TENANT_HEADER = "x-vault-tenant";
/** A caller from namespace shop: the vault's ALLOW rule names it. */
export const SHOP_CALLER = "spiffe://cluster.local/ns/shop/sa/cart";

/**
 * Paths a DENY covers: exactly `/admin` and `/reports/export`, and everything under `/admin/` and `/api/internal/`.
 * `/reports/export` has no `/*` companion, so only a trailing-slash reading reaches it from `/reports/export/`.
 */
export const DENIED_EXACT = ["/admin", "/reports/export"];
export const DENIED_PREFIXES = ["/admin/", "/api/internal/"];
/**
 * Paths a DENY scoped to the destination's pods (`selector: app: api`) covers. Most of the fuzzer's CheckRequests carry
 * no destination labels and trustgate runs without an inventory, so nothing tells trustgate the labels: the DENY must
 * still hold (the destination's pods do carry app=api). When a request's sidecar-set labels leave app=api out (a
 * dropped field), the DENY does not apply, as in Istio for a pod without that label.
 */
export const DENIED_SELECTED_PREFIXES = ["/ops/"];
/** Paths only ORDER may call. */
export const ORDER_ONLY_EXACT = ["/orders"];
export const ORDER_ONLY_PREFIXES = ["/orders/"];
/** The host a DENY covers. */
export const DENIED_HOST = "admin.internal";
/** The caller addresses a DENY covers: 10.9.0.0/16. */
export const DENIED_SOURCE_PREFIX = "10.9.";
/** The method a DENY covers (written in upper case, as Istio requires). */
export const DENIED_METHOD = "DELETE";
/**
 * A request header a DENY covers when its value is exactly DENIED_TENANT. An AUDIT policy compiled before it carries
 * the same condition at the same place in its rule, negated: a set's compiled fields are shared between policies
 * (authz-server/src/policy/field-pool.ts), and sharing one check between the two would turn the DENY inside out.
 */
export const TENANT_HEADER = "x-fuzz-tenant";
export const DENIED_TENANT = "blocked";

export const POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-paths, namespace: ${NAMESPACE}}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*", "/api/internal/*", "/reports/export"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-host, namespace: ${NAMESPACE}}
spec:
  action: DENY
  rules:
  - to: [{operation: {hosts: ["${DENIED_HOST}"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ops-on-api, namespace: ${NAMESPACE}}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/ops/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-source-range, namespace: ${NAMESPACE}}
spec:
  action: DENY
  rules:
  - from: [{source: {ipBlocks: ["10.9.0.0/16"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-method, namespace: ${NAMESPACE}}
spec:
  action: DENY
  rules:
  - to: [{operation: {methods: ["${DENIED_METHOD}"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-orders-to-others, namespace: ${NAMESPACE}}
spec:
  action: DENY
  rules:
  # The order API: for the order workload only.
  - from: [{source: {notPrincipals: ["cluster.local/ns/services/sa/order"]}}]
    to: [{operation: {paths: ["/orders", "/orders/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-other-tenants, namespace: ${NAMESPACE}}
spec:
  action: AUDIT
  rules:
  - when: [{key: "request.headers[${TENANT_HEADER}]", notValues: ["${DENIED_TENANT}"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-blocked-tenant, namespace: ${NAMESPACE}}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[${TENANT_HEADER}]", values: ["${DENIED_TENANT}"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: ${NAMESPACE}}
spec:
  # Everything else is allowed, so the DENY policies above are the only thing in the way.
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: vault-allow, namespace: ${VAULT_NAMESPACE}}
spec:
  rules:
  - from: [{source: {namespaces: ["${NAMESPACE}"]}}, {source: {requestPrincipals: ["*"]}}]
    to: [{operation: {ports: ["${VAULT_PORT}"]}}, {operation: {paths: ["/health"]}}]
    # A default deny here names the failed fields with the request's values: the tenant header is one.
    when: [{key: "request.headers[${VAULT_TENANT_HEADER}]", values: ["acme"]}]
`;
