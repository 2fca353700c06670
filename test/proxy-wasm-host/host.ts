// ProxyWasmHost: loads a compiled proxy-wasm module in Node's V8 and drives it the way Envoy's
// host (proxy-wasm-cpp-host + envoy/source/extensions/common/wasm) does. Modelled on proxytest
// from proxy-wasm-go-sdk. Test tooling: small and legible, exact where Envoy is exact.
import { webcrypto } from "node:crypto";
import { LogLevel, type LogLevelValue, type MetricTypeValue, Status } from "./abi.js";
import { GuestMemory } from "./guest-memory.js";
import { HeaderMap } from "./header-map.js";
import { createEnvImports } from "./hostcalls.js";
import type { HeaderPairs } from "./pairs.js";
import { encodeProperty, encodePropertyMap, type PropertyMap, type PropertyValue, propertyKey } from "./properties.js";
import { CALLBACKS, ENV_IMPORTS, ENV_IMPORTS_0_2, ENV_IMPORTS_0_2_1, sameType, WASI_IMPORTS } from "./signatures.js";
import { HttpStream } from "./stream.js";
import { createWasiImports } from "./wasi.js";
import { type FuncType, readSignatures, signature } from "./wasm-binary.js";

export interface HostOptions {
  /** Plugin configuration handed to proxy_on_configure (PLUGIN_CONFIGURATION buffer). */
  pluginConfig?: string | Uint8Array;
  /** VM configuration handed to proxy_on_vm_start (VM_CONFIGURATION buffer). */
  vmConfig?: string | Uint8Array;
  /** Host-level properties, e.g. { "connection.mtls": true, "source.port": prop.int(51234) }. */
  properties?: PropertyMap;
  /** plugin_root_id / plugin_vm_id / plugin_name properties (Envoy's Wasm attributes). */
  rootId?: string;
  vmId?: string;
  pluginName?: string;
  /** What proxy_get_log_level reports and the lowest level recorded in `logs` (Envoy default: info). */
  logLevel?: LogLevelValue;
  /** Clusters proxy_http_call may target; any other gives BAD_ARGUMENT. Omit to accept every cluster. */
  clusters?: readonly string[];
  /** Envoy's fail_open: after a trap, streams continue instead of getting 503 wasm_fail_stream. */
  failOpen?: boolean;
  /** Clock for proxy_get_current_time_nanoseconds and WASI clock_time_get (ns since the epoch). */
  now?: () => bigint;
  /**
   * Fault injection: called (with the lower-cased key) before proxy_remove_header_map_value changes anything; a status returned (not Ok) is
   * what the call answers, and the header stays. Lets a test see what a module does when the host refuses.
   */
  refuseHeaderRemoval?: (map: number, key: string) => number | undefined;
}

export interface StreamOptions {
  /** Per-stream properties (this connection's facts), consulted before the host-level ones. */
  properties?: PropertyMap;
}

export interface LogEntry {
  level: number;
  message: string;
  contextId: number;
}

export interface HttpCallout {
  token: number;
  upstream: string;
  headers: HeaderPairs;
  body: Uint8Array;
  trailers: HeaderPairs;
  timeoutMs: number;
  rootContextId: number;
}

export interface HttpCallResponse {
  headers: ReadonlyArray<readonly [string, string]>;
  body?: Uint8Array | string;
  trailers?: ReadonlyArray<readonly [string, string]>;
}

export interface Metric {
  name: string;
  type: MetricTypeValue;
  value: bigint;
  /** Histogram samples in recording order. */
  samples: bigint[];
}

export class WasmLoadError extends Error {}

type Exports = Record<string, WebAssembly.ExportValue>;
type Callback = (...args: Array<number | bigint>) => number | undefined;

const ABI_MARKERS = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0", "proxy_abi_version_0_1_0"] as const;
const encoder = new TextEncoder();

export class ProxyWasmHost {
  readonly rootContextId: number;
  readonly logs: LogEntry[] = [];
  /** HTTP calls dispatched by the module and not yet answered. */
  readonly httpCalls: HttpCallout[] = [];
  /** Called after the VM call that dispatched an HTTP call returns (answer it now or later). */
  onHttpCall: ((call: HttpCallout) => void) | null = null;
  /** Set when the VM trapped (or failed to start): the reason, as Envoy logs it. */
  failure: string | null = null;

  // --- internal state shared with hostcalls.ts (not part of the public API) ---
  memory!: GuestMemory;
  readonly abi: "0_2_0" | "0_2_1";
  readonly options: Required<Pick<HostOptions, "logLevel" | "failOpen">> & HostOptions;
  readonly hostProperties: Map<string, Uint8Array>;
  readonly contexts = new Map<number, HttpStream | null>(); // null = root context
  readonly metricsById = new Map<number, Metric>();
  readonly tickPeriods = new Map<number, number>();
  currentContextId = 0;
  effectiveContextId = 0;
  pluginConfigVisible = false;
  httpCallResponse: { headers: HeaderMap; body: Uint8Array; trailers: HeaderMap } | null = null;
  status: { code: number; message: string } = { code: 0, message: "" };
  pendingDone = new Set<number>();
  nextHttpCallToken = 1;
  nextMetricIds = [0, 0, 0]; // Envoy: id = (n << 2) | type, so counters 4, 8, …; gauges 5, 9, …
  private readonly afterCall: Array<() => void> = [];
  private depth = 0;
  private nextContextId = 1;
  private readonly exports: Exports;
  private pluginConfig: Uint8Array;
  readonly vmConfig: Uint8Array;

  private constructor(bytes: Uint8Array, options: HostOptions) {
    this.options = { logLevel: LogLevel.Info, failOpen: false, ...options };
    this.pluginConfig = toBytes(options.pluginConfig);
    this.vmConfig = toBytes(options.vmConfig);
    this.hostProperties = encodePropertyMap(options.properties);

    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes);
    } catch (err) {
      throw new WasmLoadError(`Failed to load Wasm code: ${(err as Error).message}`);
    }
    const { imports, exports } = readSignatures(bytes);
    const exportNames = new Set(exports.map((e) => e.name));
    const marker = ABI_MARKERS.find((m) => exportNames.has(m));
    if (!marker) throw new WasmLoadError("Missing or unknown Proxy-Wasm ABI version");
    if (marker === "proxy_abi_version_0_1_0")
      throw new WasmLoadError("this host implements ABI 0.2.x only (module is 0.1.0)");
    this.abi = marker === "proxy_abi_version_0_2_1" ? "0_2_1" : "0_2_0";

    // The functions this host registers for the module's ABI version (cpp-host registerCallbacks).
    const available: Record<string, Record<string, FuncType>> = {
      env: { ...ENV_IMPORTS, ...ENV_IMPORTS_0_2, ...(this.abi === "0_2_1" ? ENV_IMPORTS_0_2_1 : {}) },
      wasi_unstable: WASI_IMPORTS,
      wasi_snapshot_preview1: WASI_IMPORTS,
    };
    const implementations: Record<string, Record<string, (...a: never[]) => unknown>> = {
      env: createEnvImports(this),
      wasi_unstable: createWasiImports(this),
      wasi_snapshot_preview1: createWasiImports(this),
    };
    // Instantiate with exactly the declared imports, checking each like V8's link step.
    const importObject: WebAssembly.Imports = {};
    for (const imp of imports) {
      const want = available[imp.module]?.[imp.name];
      if (imp.kind !== "function" || !want) {
        throw new WasmLoadError(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
      }
      if (imp.type && !sameType(imp.type, want)) {
        throw new WasmLoadError(
          `Failed to load Wasm module due to an import type mismatch for function ${imp.module}.${imp.name}, ` +
            `want: ${signature(want)}, but host exports: ${signature(imp.type)}`,
        );
      }
      importObject[imp.module] ??= {};
      (importObject[imp.module] as Record<string, unknown>)[imp.name] = implementations[imp.module]?.[imp.name];
    }
    for (const exp of exports) {
      const want = CALLBACKS[exp.name];
      if (want && exp.kind === "function" && exp.type && !sameType(exp.type, want)) {
        throw new WasmLoadError(`Bad function signature for: ${exp.name}`);
      }
    }
    this.exports = new WebAssembly.Instance(module, importObject).exports as Exports;
    const allocator = (this.exports.malloc ?? this.exports.proxy_on_memory_allocate) as Callback | undefined;
    if (!allocator) throw new WasmLoadError("Wasm module is missing malloc function.");
    const memory = this.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new WasmLoadError("Wasm module does not export its memory");
    this.memory = new GuestMemory(memory, (size) => Number(allocator(size)));

    // Start-up: _initialize (+ main), else _start, else __wasm_call_ctors.
    this.rootContextId = this.nextContextId++;
    this.contexts.set(this.rootContextId, null);
    const start = ["_initialize", "_start", "__wasm_call_ctors"].find((n) => typeof this.exports[n] === "function");
    if (start) {
      this.call(start, this.rootContextId, []);
      if (start === "_initialize" && typeof this.exports.main === "function")
        this.call("main", this.rootContextId, [0, 0]);
      if (this.failure) throw new WasmLoadError(`Failed to start the Wasm module: ${this.failure}`);
    }
  }

  static load(bytes: Uint8Array, options: HostOptions = {}): ProxyWasmHost {
    return new ProxyWasmHost(bytes, options);
  }

  // ---------------------------------------------------------------- lifecycle

  /** proxy_on_context_create(root, 0) then proxy_on_vm_start(root, vm_config_size). */
  startVm(): boolean {
    this.call("proxy_on_context_create", this.rootContextId, [this.rootContextId, 0]);
    const result = this.call("proxy_on_vm_start", this.rootContextId, [this.rootContextId, this.vmConfig.length]);
    return this.failure === null && (result === undefined || result !== 0);
  }

  /** proxy_on_configure(root, size); false means Envoy rejects the configuration. */
  configure(pluginConfig?: string | Uint8Array): boolean {
    if (pluginConfig !== undefined) this.pluginConfig = toBytes(pluginConfig);
    if (this.failure) return true; // Envoy skips configure on a failed VM
    this.pluginConfigVisible = true;
    try {
      const result = this.call("proxy_on_configure", this.rootContextId, [
        this.rootContextId,
        this.pluginConfig.length,
      ]);
      return this.failure === null && (result === undefined || result !== 0);
    } finally {
      this.pluginConfigVisible = false;
    }
  }

  get currentPluginConfig(): Uint8Array {
    return this.pluginConfig;
  }

  /** A new stream context: proxy_on_context_create(id, root). */
  newHttpStream(options: StreamOptions = {}): HttpStream {
    const id = this.nextContextId++;
    const stream = new HttpStream(this, id, this.rootContextId, this.encodedProperties(options.properties));
    this.contexts.set(id, stream);
    if (!this.failure) this.call("proxy_on_context_create", id, [id, this.rootContextId]);
    return stream;
  }

  /** proxy_on_tick(root), only when the module set a tick period (as Envoy's timer). */
  tick(): void {
    if ((this.tickPeriods.get(this.rootContextId) ?? 0) > 0 && !this.failure) {
      this.call("proxy_on_tick", this.rootContextId, [this.rootContextId]);
    }
  }

  get tickPeriodMs(): number {
    return this.tickPeriods.get(this.rootContextId) ?? 0;
  }

  /** Answers an HTTP call: proxy_on_http_call_response(root, token, headers, body size, trailers). */
  respondHttpCall(token: number, response: HttpCallResponse): void {
    const call = this.takeCall(token);
    const headers = new HeaderMap(response.headers);
    const trailers = new HeaderMap(response.trailers ?? []);
    const body = toBytes(response.body);
    this.deliverCallResponse(() => {
      this.httpCallResponse = { headers, body, trailers };
      try {
        this.call("proxy_on_http_call_response", call.rootContextId, [
          call.rootContextId,
          token,
          headers.size,
          body.length,
          trailers.size,
        ]);
      } finally {
        this.httpCallResponse = null;
      }
    });
  }

  /** Fails an HTTP call (reset/timeout): the callback gets num_headers 0; proxy_get_status says BrokenConnection. */
  failHttpCall(token: number): void {
    const call = this.takeCall(token);
    this.deliverCallResponse(() => {
      this.status = { code: Status.BrokenConnection, message: "reset" };
      try {
        this.call("proxy_on_http_call_response", call.rootContextId, [call.rootContextId, token, 0, 0, 0]);
      } finally {
        this.status = { code: 0, message: "" };
      }
    });
  }

  /** VM shutdown: proxy_on_done on the root (waits for proxy_done if it returns false), then proxy_on_delete. */
  shutdown(): boolean {
    if (this.failure) return true;
    const done = this.call("proxy_on_done", this.rootContextId, [this.rootContextId]);
    if (done === 0) {
      this.pendingDone.add(this.rootContextId);
      return false;
    }
    this.finishShutdown();
    return this.failure === null;
  }

  finishShutdown(): void {
    this.pendingDone.clear();
    if (!this.failure) this.call("proxy_on_delete", this.rootContextId, [this.rootContextId]);
  }

  private readonly propertyCache = new WeakMap<PropertyMap, Map<string, Uint8Array>>();

  /** Encodes a stream's properties once per object, so a connection's map can be reused per request. */
  private encodedProperties(properties: PropertyMap | undefined): Map<string, Uint8Array> {
    if (!properties) return new Map();
    let encoded = this.propertyCache.get(properties);
    if (!encoded) {
      encoded = encodePropertyMap(properties);
      this.propertyCache.set(properties, encoded);
    }
    return encoded;
  }

  // ---------------------------------------------------------------- inspection

  get memoryPages(): number {
    return this.memory.byteLength / 65536;
  }

  /** The metric (summed over every id defined with this name). */
  metric(name: string): Metric | undefined {
    let found: Metric | undefined;
    for (const m of this.metricsById.values()) {
      if (m.name !== name) continue;
      if (!found) found = { name, type: m.type, value: 0n, samples: [] };
      found.value += m.value;
      found.samples.push(...m.samples);
    }
    return found;
  }

  get metrics(): Map<string, Metric> {
    const out = new Map<string, Metric>();
    for (const m of this.metricsById.values()) {
      const metric = this.metric(m.name);
      if (metric) out.set(m.name, metric);
    }
    return out;
  }

  logMessages(minLevel: LogLevelValue = LogLevel.Trace): string[] {
    return this.logs.filter((l) => l.level >= minLevel).map((l) => l.message);
  }

  setProperty(path: string | readonly string[], value: PropertyValue): void {
    this.hostProperties.set(propertyKey(path), encodeProperty(value));
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  // ---------------------------------------------------------------- internals (used by stream/hostcalls)

  /** Runs a stream callback with Envoy's CHECK_FAIL semantics; undefined when the module was not called. */
  invokeStream(stream: HttpStream, name: string, ...args: number[]): number | undefined {
    if (this.failure) {
      if (!this.options.failOpen) stream.failStream();
      return undefined;
    }
    if (typeof this.exports[name] !== "function") return undefined;
    const result = this.call(name, stream.id, [stream.id, ...args]);
    if (this.failure && !this.options.failOpen) stream.failStream();
    return result;
  }

  finishStream(stream: HttpStream): void {
    if (!this.failure) {
      this.call("proxy_on_done", stream.id, [stream.id]);
      stream.accessLogPhase = true;
      if (!this.failure) this.call("proxy_on_log", stream.id, [stream.id]);
      stream.accessLogPhase = false;
      if (!this.failure) this.call("proxy_on_delete", stream.id, [stream.id]);
    }
    this.contexts.delete(stream.id);
  }

  /** The context hostcalls act on: the effective context if the module set one, else the current one. */
  get activeContextId(): number {
    return this.effectiveContextId !== 0 && this.contexts.has(this.effectiveContextId)
      ? this.effectiveContextId
      : this.currentContextId;
  }

  get activeStream(): HttpStream | null {
    return this.contexts.get(this.activeContextId) ?? null;
  }

  /** Work Envoy defers until the outermost VM call returns (local replies, continue, HTTP callouts). */
  defer(action: () => void): void {
    this.afterCall.push(action);
  }

  recordLog(level: number, message: string): void {
    if (level >= this.options.logLevel) this.logs.push({ level, message, contextId: this.activeContextId });
  }

  now(): bigint {
    return this.options.now ? this.options.now() : BigInt(Date.now()) * 1_000_000n;
  }

  randomFill(bytes: Uint8Array): void {
    webcrypto.getRandomValues(bytes);
  }

  pluginConfigBuffer(): Uint8Array | null {
    return this.pluginConfigVisible ? this.pluginConfig : null;
  }

  private takeCall(token: number): HttpCallout {
    const index = this.httpCalls.findIndex((c) => c.token === token);
    const call = this.httpCalls[index];
    if (!call) throw new Error(`no pending HTTP call with token ${token}`);
    this.httpCalls.splice(index, 1);
    return call;
  }

  private deliverCallResponse(run: () => void): void {
    if (this.failure) return;
    // Envoy defers a callback that arrives while the VM is running (re-entrancy).
    if (this.depth > 0) this.defer(run);
    else run();
  }

  /** Calls an export with the context set; a trap fails the VM (Envoy: "Function: … failed"). */
  private call(name: string, contextId: number, args: Array<number | bigint>): number | undefined {
    const fn = this.exports[name];
    if (typeof fn !== "function") return undefined;
    const previous = this.currentContextId;
    this.currentContextId = contextId;
    this.depth++;
    let result: unknown;
    try {
      result = (fn as Callback)(...args);
    } catch (err) {
      if (!(err instanceof WebAssembly.RuntimeError) && !(err instanceof RangeError)) throw err;
      this.failure = `Function: ${name} failed: ${err.message}`;
      this.logs.push({ level: LogLevel.Critical, message: this.failure, contextId });
      result = undefined;
    } finally {
      this.depth--;
      this.currentContextId = previous;
    }
    if (this.depth === 0) {
      this.effectiveContextId = 0;
      while (this.afterCall.length > 0) this.afterCall.shift()?.();
    }
    return typeof result === "number" ? result >>> 0 : undefined;
  }
}

function toBytes(v: string | Uint8Array | undefined): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  return typeof v === "string" ? encoder.encode(v) : v;
}
