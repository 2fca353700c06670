// The env.proxy_* host functions, following proxy-wasm-cpp-host src/exports.cc and Envoy's
// common/wasm/context.cc. Every pointer/size is an i32; i64 arguments arrive as BigInt.
import { BufferType, LogLevel, MapType, MetricType, Status, StreamType } from "./abi.js";
import { HeaderMap } from "./header-map.js";
import type { ProxyWasmHost } from "./host.js";
import { decodePairs } from "./pairs.js";
import { normalizeGuestPath } from "./properties.js";
import type { HttpStream } from "./stream.js";

const u = (v: number): number => v >>> 0;
const utf8 = (s: string): Uint8Array => Buffer.from(s, "utf8");

export function createEnvImports(host: ProxyWasmHost): Record<string, (...a: never[]) => unknown> {
  const mem = () => host.memory;

  /** The header map a map type names for the active context (null: BAD_ARGUMENT, as Envoy's getMap). */
  function headerMap(type: number, forWrite: boolean): HeaderMap | null {
    if (type === MapType.HttpCallResponseHeaders || type === MapType.HttpCallResponseTrailers) {
      if (forWrite || !host.httpCallResponse) return null;
      return type === MapType.HttpCallResponseHeaders ? host.httpCallResponse.headers : host.httpCallResponse.trailers;
    }
    const s = host.activeStream;
    if (!s) return null;
    const readOnly = s.accessLogPhase;
    if (forWrite && readOnly) return null;
    switch (type) {
      case MapType.HttpRequestHeaders:
        return s.available.requestHeaders || readOnly ? s.request.headers : null;
      case MapType.HttpRequestTrailers:
        return s.available.requestTrailers ? s.request.trailers : null;
      case MapType.HttpResponseHeaders:
        return s.available.responseHeaders || readOnly ? s.response.headers : null;
      case MapType.HttpResponseTrailers:
        return s.available.responseTrailers || readOnly ? s.response.trailers : null;
      default:
        return null;
    }
  }

  /** proxy_add_header_map_value / proxy_replace_header_map_value: same checks, different write. */
  function writeHeader(
    type: number,
    keyPtr: number,
    keySize: number,
    valuePtr: number,
    valueSize: number,
    op: "add" | "replace",
  ): number {
    if (u(type) > 7) return Status.BadArgument;
    const key = mem().readString(u(keyPtr), u(keySize));
    const value = mem().readString(u(valuePtr), u(valueSize));
    if (key === null || value === null) return Status.InvalidMemoryAccess;
    const map = headerMap(u(type), true);
    if (!map) return Status.BadArgument;
    map[op](key, value);
    return Status.Ok;
  }

  function buffer(type: number): Uint8Array | null {
    const s = host.activeStream;
    switch (type) {
      case BufferType.HttpRequestBody:
        return s ? s.request.body : null;
      case BufferType.HttpResponseBody:
        return s ? s.response.body : null;
      case BufferType.HttpCallResponseBody:
        return host.httpCallResponse ? host.httpCallResponse.body : null;
      case BufferType.VmConfiguration:
        return host.vmConfig;
      case BufferType.PluginConfiguration:
        return host.pluginConfigBuffer();
      default:
        return null;
    }
  }

  function lookupProperty(path: string): Uint8Array | undefined {
    const s = host.activeStream;
    const fromStream = s?.properties.get(path) ?? s?.filterState.get(path);
    if (fromStream) return fromStream;
    const fromHost = host.hostProperties.get(path);
    if (fromHost) return fromHost;
    const o = host.options;
    if (path === "plugin_root_id") return utf8(o.rootId ?? "");
    if (path === "plugin_vm_id") return utf8(o.vmId ?? "");
    if (path === "plugin_name" && o.pluginName !== undefined) return utf8(o.pluginName);
    return undefined;
  }

  function sendLocalReply(
    stream: HttpStream,
    code: number,
    details: string,
    body: Uint8Array,
    extra: HeaderMap,
    grpc: number,
  ): void {
    if (stream.localResponse) return; // Envoy sends only one local reply per stream
    const headers = new HeaderMap([[":status", String(code)]]);
    for (const [k, v] of extra.pairs()) headers.add(k, v);
    if (body.length > 0) {
      headers.replace("content-length", String(body.length));
      if (headers.get("content-type") === undefined) headers.add("content-type", "text/plain");
    }
    stream.localResponse = {
      statusCode: code,
      details: details.replace(/\s/g, "_"),
      body,
      headers,
      grpcStatus: grpc >= 0 && grpc <= 16 ? grpc : null,
      failure: false,
    };
    stream.request.paused = false;
    // The reply goes back through the encoder side of the filter chain, this filter included.
    stream.response.headers = headers;
    stream.deliverResponseHeaders(body.length === 0);
    if (body.length > 0 && !stream.localResponse.failure) {
      stream.response.body = body;
      stream.deliverResponseBody(true);
    }
  }

  return {
    proxy_log(level: number, ptr: number, size: number): number {
      if (u(level) > LogLevel.Critical) return Status.BadArgument;
      const msg = mem().readString(u(ptr), u(size));
      if (msg === null) return Status.InvalidMemoryAccess;
      host.recordLog(level, msg);
      return Status.Ok;
    },

    proxy_get_log_level(retPtr: number): number {
      return mem().writeU32(u(retPtr), host.options.logLevel) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_get_status(codePtr: number, msgPtrPtr: number, msgSizePtr: number): number {
      if (!mem().writeU32(u(codePtr), host.status.code)) return Status.InvalidMemoryAccess;
      return mem().copyIn(utf8(host.status.message), u(msgPtrPtr), u(msgSizePtr))
        ? Status.Ok
        : Status.InvalidMemoryAccess;
    },

    proxy_get_current_time_nanoseconds(retPtr: number): number {
      return mem().writeU64(u(retPtr), host.now()) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_set_tick_period_milliseconds(period: number): number {
      const s = host.activeStream;
      host.tickPeriods.set(s ? s.rootContextId : host.rootContextId, u(period));
      return Status.Ok;
    },

    proxy_get_property(pathPtr: number, pathSize: number, retPtrPtr: number, retSizePtr: number): number {
      const raw = mem().readString(u(pathPtr), u(pathSize));
      if (raw === null) return Status.InvalidMemoryAccess;
      const value = lookupProperty(normalizeGuestPath(raw));
      if (value === undefined) return Status.NotFound;
      return mem().copyIn(value, u(retPtrPtr), u(retSizePtr)) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_set_property(pathPtr: number, pathSize: number, valuePtr: number, valueSize: number): number {
      const path = mem().readString(u(pathPtr), u(pathSize));
      const value = mem().read(u(valuePtr), u(valueSize));
      if (path === null || value === null) return Status.InvalidMemoryAccess;
      const s = host.activeStream;
      if (!s) return Status.NotFound; // no stream info outside a stream
      s.filterState.set(normalizeGuestPath(path), value);
      return Status.Ok;
    },

    proxy_get_header_map_value(type: number, keyPtr: number, keySize: number, retPtrPtr: number, retSizePtr: number) {
      if (u(type) > 7) return Status.BadArgument;
      const key = mem().readString(u(keyPtr), u(keySize));
      if (key === null) return Status.InvalidMemoryAccess;
      const map = headerMap(u(type), false);
      if (!map) return Status.BadArgument;
      const value = map.get(key);
      if (value === undefined) return Status.NotFound;
      return mem().copyInString(value, u(retPtrPtr), u(retSizePtr)) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_add_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) {
      return writeHeader(type, keyPtr, keySize, valuePtr, valueSize, "add");
    },

    proxy_replace_header_map_value(type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) {
      return writeHeader(type, keyPtr, keySize, valuePtr, valueSize, "replace");
    },

    proxy_remove_header_map_value(type: number, keyPtr: number, keySize: number): number {
      if (u(type) > 7) return Status.BadArgument;
      const key = mem().readString(u(keyPtr), u(keySize));
      if (key === null) return Status.InvalidMemoryAccess;
      const map = headerMap(u(type), true);
      if (!map) return Status.BadArgument;
      const refused = host.options.refuseHeaderRemoval?.(u(type), key.toLowerCase());
      if (refused !== undefined && refused !== Status.Ok) return refused;
      map.remove(key);
      return Status.Ok;
    },

    proxy_get_header_map_pairs(type: number, retPtrPtr: number, retSizePtr: number): number {
      if (u(type) > 7) return Status.BadArgument;
      const map = headerMap(u(type), false);
      const pairs = map ? map.entriesView() : [];
      return mem().copyInPairs(pairs, u(retPtrPtr), u(retSizePtr)) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_set_header_map_pairs(type: number, ptr: number, size: number): number {
      if (u(type) > 7) return Status.BadArgument;
      const bytes = mem().read(u(ptr), u(size));
      if (bytes === null) return Status.InvalidMemoryAccess;
      const map = headerMap(u(type), true);
      if (!map) return Status.BadArgument;
      map.setPairs(decodePairs(bytes));
      return Status.Ok;
    },

    proxy_get_header_map_size(type: number, retPtr: number): number {
      if (u(type) > 7) return Status.BadArgument;
      const map = headerMap(u(type), false);
      if (!map) return Status.BadArgument;
      return mem().writeU32(u(retPtr), map.byteSize()) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_get_buffer_bytes(type: number, start: number, maxSize: number, retPtrPtr: number, retSizePtr: number) {
      if (u(type) > 8) return Status.BadArgument;
      const buf = buffer(u(type));
      if (!buf) return Status.NotFound;
      const from = u(start);
      if (from > buf.length) return Status.BadArgument;
      const length = Math.min(u(maxSize), buf.length - from); // don't overread
      const slice = buf.subarray(from, from + length);
      return mem().copyIn(slice, u(retPtrPtr), u(retSizePtr)) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_get_buffer_status(type: number, lengthPtr: number, flagsPtr: number): number {
      if (u(type) > 8) return Status.BadArgument;
      const buf = buffer(u(type));
      if (!buf) return Status.NotFound;
      return mem().writeU32(u(lengthPtr), buf.length) && mem().writeU32(u(flagsPtr), 0)
        ? Status.Ok
        : Status.InvalidMemoryAccess;
    },

    proxy_set_buffer_bytes(type: number, start: number, length: number, dataPtr: number, dataSize: number): number {
      if (u(type) > 8) return Status.BadArgument;
      const s = host.activeStream;
      const data = mem().read(u(dataPtr), u(dataSize));
      if (data === null) return Status.InvalidMemoryAccess;
      const side =
        u(type) === BufferType.HttpRequestBody
          ? s?.request
          : u(type) === BufferType.HttpResponseBody
            ? s?.response
            : undefined;
      if (!side) return Status.NotFound;
      // Envoy's Buffer::copyFrom: prepend, replace all, or append; anything else is BAD_ARGUMENT.
      const body = side.body;
      if (u(start) === 0 && u(length) === 0) side.body = concat(data, body);
      else if (u(start) === 0 && u(length) >= body.length) side.body = data;
      else if (u(start) >= body.length) side.body = concat(body, data);
      else return Status.BadArgument;
      return Status.Ok;
    },

    proxy_send_local_response(
      code: number,
      detailsPtr: number,
      detailsSize: number,
      bodyPtr: number,
      bodySize: number,
      pairsPtr: number,
      pairsSize: number,
      grpcStatus: number,
    ): number {
      const details = mem().readString(u(detailsPtr), u(detailsSize));
      const body = mem().read(u(bodyPtr), u(bodySize));
      const pairs = mem().read(u(pairsPtr), u(pairsSize));
      if (details === null || body === null || pairs === null) return Status.InvalidMemoryAccess;
      const stream = host.activeStream;
      if (stream) {
        const extra = new HeaderMap(decodePairs(pairs));
        // Envoy sends the reply after the current VM call returns.
        host.defer(() => sendLocalReply(stream, u(code), details, body, extra, grpcStatus | 0));
      }
      return Status.Ok;
    },

    proxy_continue_stream(type: number): number {
      const s = host.activeStream;
      const t = u(type);
      if (t === StreamType.Upstream) return Status.Unimplemented;
      if (t > StreamType.Upstream) return Status.BadArgument;
      if (s && (t === StreamType.HttpRequest || t === StreamType.HttpResponse)) {
        const side = t === StreamType.HttpRequest ? "request" : "response";
        host.defer(() => {
          s[side].paused = false;
          s[side].action = 0;
          if (side === "request") {
            s.available.requestHeaders = false;
            s.available.requestTrailers = false;
          }
          s.onResume?.(side);
        });
      }
      return Status.Ok;
    },

    proxy_close_stream(type: number): number {
      const s = host.activeStream;
      if (u(type) > StreamType.Upstream) return Status.BadArgument;
      if (s && u(type) <= StreamType.HttpResponse) {
        host.defer(() => {
          s.reset = true;
        });
      }
      return Status.Ok;
    },

    proxy_set_effective_context(contextId: number): number {
      if (!host.contexts.has(u(contextId))) return Status.BadArgument;
      host.effectiveContextId = u(contextId);
      return Status.Ok;
    },

    proxy_done(): number {
      const id = host.activeContextId;
      if (!host.pendingDone.has(id)) return Status.NotFound;
      host.defer(() => host.finishShutdown());
      return Status.Ok;
    },

    proxy_http_call(
      upstreamPtr: number,
      upstreamSize: number,
      headersPtr: number,
      headersSize: number,
      bodyPtr: number,
      bodySize: number,
      trailersPtr: number,
      trailersSize: number,
      timeoutMs: number,
      tokenPtr: number,
    ): number {
      const upstream = mem().readString(u(upstreamPtr), u(upstreamSize));
      const headerBytes = mem().read(u(headersPtr), u(headersSize));
      const body = mem().read(u(bodyPtr), u(bodySize));
      const trailerBytes = mem().read(u(trailersPtr), u(trailersSize));
      if (upstream === null || headerBytes === null || body === null || trailerBytes === null) {
        return Status.InvalidMemoryAccess;
      }
      if (!mem().writeU32(u(tokenPtr), 0)) return Status.InvalidMemoryAccess;
      if ((timeoutMs | 0) < 0) return Status.BadArgument;
      const clusters = host.options.clusters;
      if (clusters && !clusters.includes(upstream)) return Status.BadArgument;
      const headers = new HeaderMap(decodePairs(headerBytes));
      if (!headers.get(":path") || !headers.get(":method") || !(headers.get(":authority") ?? headers.get("host"))) {
        return Status.BadArgument;
      }
      const token = host.nextHttpCallToken++;
      const s = host.activeStream;
      const call = {
        token,
        upstream,
        headers: headers.pairs(),
        body,
        trailers: decodePairs(trailerBytes),
        timeoutMs: u(timeoutMs),
        rootContextId: s ? s.rootContextId : host.rootContextId,
      };
      host.httpCalls.push(call);
      mem().writeU32(u(tokenPtr), token);
      if (host.onHttpCall) host.defer(() => host.onHttpCall?.(call));
      return Status.Ok;
    },

    proxy_define_metric(type: number, namePtr: number, nameSize: number, retIdPtr: number): number {
      const t = u(type);
      if (t > MetricType.Histogram) return Status.BadArgument;
      const name = mem().readString(u(namePtr), u(nameSize));
      if (name === null) return Status.InvalidMemoryAccess;
      const n = host.nextMetricIds[t] ?? 0;
      const id = ((n + 1) << 2) | t;
      host.nextMetricIds[t] = n + 1;
      host.metricsById.set(id, { name, type: t as 0 | 1 | 2, value: 0n, samples: [] });
      // Defining a name again gives a new id for the same stat (as in Envoy); host.metric(name) sums them.
      return mem().writeU32(u(retIdPtr), id) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    proxy_increment_metric(id: number, delta: bigint): number {
      const m = host.metricsById.get(u(id));
      const type = u(id) & 3;
      if (type === MetricType.Histogram) return Status.BadArgument;
      if (!m) return Status.NotFound;
      if (type === MetricType.Counter) {
        if (delta <= 0n) return Status.BadArgument;
        m.value += delta;
      } else {
        m.value = BigInt.asUintN(64, m.value + delta);
      }
      return Status.Ok;
    },

    proxy_record_metric(id: number, value: bigint): number {
      const m = host.metricsById.get(u(id));
      if (!m) return Status.NotFound;
      const v = BigInt.asUintN(64, value);
      if (m.type === MetricType.Counter) m.value += v;
      else if (m.type === MetricType.Gauge) m.value = v;
      else m.samples.push(v);
      return Status.Ok;
    },

    proxy_get_metric(id: number, retPtr: number): number {
      const m = host.metricsById.get(u(id));
      if ((u(id) & 3) === MetricType.Histogram) return Status.BadArgument;
      if (!m) return Status.NotFound;
      return mem().writeU64(u(retPtr), m.value) ? Status.Ok : Status.InvalidMemoryAccess;
    },

    // Shared data/queues, gRPC and foreign functions are registered (so such modules link, as in
    // Envoy) but not modelled: they answer UNIMPLEMENTED.
    proxy_get_shared_data: () => Status.Unimplemented,
    proxy_set_shared_data: () => Status.Unimplemented,
    proxy_register_shared_queue: () => Status.Unimplemented,
    proxy_resolve_shared_queue: () => Status.Unimplemented,
    proxy_dequeue_shared_queue: () => Status.Unimplemented,
    proxy_enqueue_shared_queue: () => Status.Unimplemented,
    proxy_grpc_call: () => Status.Unimplemented,
    proxy_grpc_stream: () => Status.Unimplemented,
    proxy_grpc_close: () => Status.Unimplemented,
    proxy_grpc_cancel: () => Status.Unimplemented,
    proxy_grpc_send: () => Status.Unimplemented,
    proxy_call_foreign_function: () => Status.NotFound,
    pthread_equal: (a: number, b: number) => (a === b ? 1 : 0),
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
