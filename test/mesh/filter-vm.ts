/**
 * One sidecar's Wasm VM: the compiled trustgate filter loaded through the proxy-wasm host, configured like Envoy's
 * `envoy.filters.http.wasm` (root_id/vm_id "trustgate"), its `proxy_http_call`s answered by really calling the
 * cluster they name (trustgate's admin port for the revocation list), and `on_tick` driven on the period the module
 * set — the timer Envoy runs for the root context.
 */
import http from "node:http";
import {
  type HeaderPairs,
  type HttpCallout,
  type LocalResponse,
  LogLevel,
  type PropertyMap,
  ProxyWasmHost,
} from "../proxy-wasm-host/index.js";

export interface ClusterAddress {
  readonly host: string;
  readonly port: number;
}

export interface FilterVmOptions {
  readonly wasm: Uint8Array;
  /** The plugin configuration (JSON), as Envoy passes a StringValue `configuration`. */
  readonly pluginConfig: string;
  /** Envoy clusters the module may call (proxy_http_call), by name. */
  readonly clusters: Readonly<Record<string, ClusterAddress>>;
}

export interface FilterResult {
  /** The filter answered the request itself (a local deny, or 503 if the VM failed). */
  readonly localResponse: LocalResponse | null;
  /** The request headers after the filter ran (what goes on to ext_authz and the app). */
  readonly headers: HeaderPairs;
  /** Envoy's per-request filter instance; finish it with `complete()` when the request is done. */
  readonly complete: () => void;
}

export class FilterVm {
  readonly host: ProxyWasmHost;
  private ticker: NodeJS.Timeout | null = null;
  private ticking = true;
  private closed = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly options: FilterVmOptions) {
    this.host = ProxyWasmHost.load(options.wasm, {
      pluginConfig: options.pluginConfig,
      rootId: "trustgate",
      vmId: "trustgate",
      pluginName: "trustgate",
      logLevel: LogLevel.Info,
      clusters: Object.keys(options.clusters),
    });
    this.host.onHttpCall = (call) => this.dispatch(call);
    if (!this.host.startVm()) throw new Error(`the filter VM did not start: ${this.host.logMessages().join("; ")}`);
    if (!this.host.configure()) {
      throw new Error(`the filter rejected its configuration: ${this.host.logMessages().join("; ")}`);
    }
    this.armTicker();
  }

  /** Runs the request headers through a new stream (one per request) on this connection's properties. */
  requestHeaders(headers: HeaderPairs, properties: PropertyMap, endOfStream: boolean): FilterResult {
    const stream = this.host.newHttpStream({ properties });
    stream.requestHeaders(headers, { endOfStream });
    if (!stream.localResponse && stream.request.paused) {
      // The trustgate filter never pauses a request; a module that did would need proxy_continue_stream support.
      throw new Error("the filter paused the request; this stand-in does not resume paused requests");
    }
    return {
      localResponse: stream.localResponse,
      headers: stream.requestHeaderPairs(),
      complete: () => stream.complete(),
    };
  }

  /** Envoy reconfigures a running VM when the plugin configuration changes (on_configure again). */
  reconfigure(pluginConfig: string): void {
    if (!this.host.configure(pluginConfig)) throw new Error("the filter rejected the new configuration");
    this.armTicker();
  }

  /**
   * Stops/starts the tick timer (tests use this to decide which layer a deny comes from). Await the result to be
   * sure no poll is still in flight either.
   */
  setTicking(on: boolean): Promise<void> {
    this.ticking = on;
    this.armTicker();
    return this.settled();
  }

  /**
   * One tick now (what the timer does), resolved when the HTTP call it dispatched has been answered. A poll already
   * in flight is waited for first: the filter keeps one poll at a time, so its answer may predate the caller's change.
   */
  async tickNow(): Promise<void> {
    await this.settled();
    this.host.tick();
    await this.settled();
  }

  /** Resolves when no HTTP call of the module is in flight. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  metric(name: string): bigint {
    return this.host.metric(name)?.value ?? 0n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.host.shutdown();
  }

  private armTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const period = this.host.tickPeriodMs;
    if (!this.ticking || this.closed || period <= 0) return;
    this.ticker = setInterval(() => this.host.tick(), period);
    this.ticker.unref();
  }

  /** Answers one proxy_http_call with a real HTTP request to the named cluster (or fails it like a reset). */
  private dispatch(call: HttpCallout): void {
    const target = this.options.clusters[call.upstream];
    if (!target) {
      this.host.failHttpCall(call.token);
      return;
    }
    const pseudo = new Map(call.headers.filter(([k]) => k.startsWith(":")));
    const headers: Record<string, string> = { host: pseudo.get(":authority") ?? call.upstream };
    for (const [k, v] of call.headers) if (!k.startsWith(":")) headers[k] = v;
    const done = new Promise<void>((resolve) => {
      let answered = false;
      const finish = (respond: () => void) => {
        if (answered) return;
        answered = true;
        if (!this.closed) respond();
        resolve();
      };
      const req = http.request(
        {
          host: target.host,
          port: target.port,
          method: pseudo.get(":method") ?? "GET",
          path: pseudo.get(":path") ?? "/",
          headers,
          agent: false,
          timeout: call.timeoutMs > 0 ? call.timeoutMs : undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const responseHeaders: Array<[string, string]> = [[":status", String(res.statusCode ?? 0)]];
            for (let i = 0; i < res.rawHeaders.length; i += 2) {
              responseHeaders.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
            }
            finish(() =>
              this.host.respondHttpCall(call.token, { headers: responseHeaders, body: Buffer.concat(chunks) }),
            );
          });
          res.on("error", () => finish(() => this.host.failHttpCall(call.token)));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => finish(() => this.host.failHttpCall(call.token)));
      if (call.body.length > 0) req.end(Buffer.from(call.body));
      else req.end();
    });
    this.inflight.add(done);
    void done.then(() => this.inflight.delete(done));
  }
}
