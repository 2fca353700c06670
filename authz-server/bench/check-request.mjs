// The CheckRequest the benchmark sends: what an Envoy sidecar with include_peer_certificate off sends for a typical
// service-to-service call (order → payment), headers included, framed as one gRPC message.
import { buildCheckRequest } from "../dist/extauthz/build-check-request.js";
import { checkCodec } from "../dist/extauthz/codec.js";

export const CHECK_PATH = "/envoy.service.auth.v3.Authorization/Check";

export function benchRequest() {
  const host = "payment.services.svc.cluster.local:8080";
  return buildCheckRequest({
    source: { principal: "spiffe://cluster.local/ns/services/sa/order", ip: "10.244.1.17", port: 51234 },
    destination: {
      principal: "spiffe://cluster.local/ns/services/sa/payment",
      ip: "10.244.2.9",
      port: 8080,
      labels: { app: "payment", version: "v1" },
      namespace: "services",
    },
    time: { seconds: 1_795_000_000, nanos: 0 },
    requestId: "13907472946013093921",
    method: "POST",
    path: "/api/v1/payment/84721?currency=EUR&idempotency=1",
    host,
    protocol: "HTTP/2",
    size: 512,
    headers: {
      accept: "application/json",
      "content-type": "application/json",
      "content-length": "512",
      "user-agent": "order-service/2.4.1",
      "x-request-id": "6f9e4a1e-8c1b-4f3e-9d2a-1c0b9e7f5a33",
      "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
      "x-b3-spanid": "e457b5a2e4d86bd1",
      "x-b3-sampled": "1",
      "x-forwarded-proto": "http",
      "x-envoy-attempt-count": "1",
      "x-trustgate-peer-spiffe-id": "spiffe://cluster.local/ns/services/sa/order",
      "x-trustgate-peer-cert-sha256": "sha256:dde60084579f8d883daa3e2c286b746c9b71e224ffe9dfbf5a6d609962187df5",
      "x-trustgate-peer-cert-subject": "CN=order.services.svc.cluster.local,O=trustgate demo,C=US",
      "x-trustgate-peer-mtls": "true",
    },
  });
}

/** The request as a gRPC length-prefixed message (what goes into the HTTP/2 DATA frame). */
export function framedBenchRequest(request = benchRequest()) {
  const message = checkCodec().encodeRequest(request);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** The benchmark request without trace headers: every Check then starts a new trace (a root span when traced). */
export function untracedBenchRequest() {
  const request = benchRequest();
  const headers = request.attributes.request.http.headers;
  for (const name of ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled"]) delete headers[name];
  return request;
}
