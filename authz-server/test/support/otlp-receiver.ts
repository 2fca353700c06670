/**
 * An OTLP/HTTP receiver for tests, as an OpenTelemetry collector's `otlphttp` receiver behaves: POST /v1/traces and
 * /v1/logs with protobuf bodies (gzip or not), answered 200 with an empty Export*ServiceResponse. Bodies are decoded
 * with the OTLP protobuf definitions that OpenTelemetry's own transformer package generates.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import root from "@opentelemetry/otlp-transformer/build/src/generated/root.js";

// biome-ignore lint/suspicious/noExplicitAny: the generated protobufjs root is untyped here
const otlp = (root as any).opentelemetry.proto;
const TraceRequest = otlp.collector.trace.v1.ExportTraceServiceRequest;
const LogsRequest = otlp.collector.logs.v1.ExportLogsServiceRequest;

export interface ReceivedSpan {
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Record<string, unknown>;
  readonly serviceName: string;
}

export interface ReceivedLog {
  readonly body: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Record<string, unknown>;
  readonly severityText: string;
}

export interface OtlpReceiver {
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly logs: ReceivedLog[];
  /** Content-Encoding of every request received. */
  readonly encodings: string[];
  /** While set, requests are held unanswered (a stalled collector). */
  stall(on: boolean): void;
  close(): Promise<void>;
}

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString("hex");

// biome-ignore lint/suspicious/noExplicitAny: OTLP KeyValue from the generated decoder
function attributes(list: any[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] =
      v.stringValue ??
      (v.intValue !== undefined && v.intValue !== null ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
  }
  return out;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const encodings: string[] = [];
  let stalled = false;
  const held: Array<() => void> = [];
  const server: Server = createServer(async (req, res) => {
    const raw = await body(req);
    encodings.push(req.headers["content-encoding"] ?? "identity");
    const bytes = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
    const answer = () => {
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    };
    if (req.url === "/v1/traces") {
      const decoded = TraceRequest.decode(bytes);
      for (const rs of decoded.resourceSpans ?? []) {
        const serviceName = String(attributes(rs.resource?.attributes)["service.name"] ?? "");
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              name: s.name,
              kind: s.kind,
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              attributes: attributes(s.attributes),
              serviceName,
            });
          }
        }
      }
    } else if (req.url === "/v1/logs") {
      const decoded = LogsRequest.decode(bytes);
      for (const rl of decoded.resourceLogs ?? []) {
        for (const sl of rl.scopeLogs ?? []) {
          for (const r of sl.logRecords ?? []) {
            logs.push({
              body: r.body?.stringValue ?? "",
              traceId: hex(r.traceId),
              spanId: hex(r.spanId),
              attributes: attributes(r.attributes),
              severityText: r.severityText ?? "",
            });
          }
        }
      }
    } else {
      res.writeHead(404);
      res.end();
      return;
    }
    if (stalled) held.push(answer);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    logs,
    encodings,
    stall(on) {
      stalled = on;
      if (!on) for (const release of held.splice(0)) release();
    },
    close() {
      for (const release of held.splice(0)) release();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
