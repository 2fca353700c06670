// One HTTP stream (an Envoy filter instance): its header maps, bodies, per-stream connection
// properties, the local response if the module (or a trap) produced one, and the callback order
// Envoy drives: request headers → body → trailers → response headers → body → trailers → done → log → delete.
import { DataAction, GRPC_UNAVAILABLE, HeadersAction } from "./abi.js";
import { HeaderMap } from "./header-map.js";
import type { ProxyWasmHost } from "./host.js";
import type { HeaderPairs } from "./pairs.js";

export interface LocalResponse {
  statusCode: number;
  /** Response code details, whitespace replaced by "_" as Envoy does. */
  details: string;
  body: Uint8Array;
  /** The reply's headers (":status", the module's additional headers, content-length/-type). */
  headers: HeaderMap;
  /** null when the module passed -1 (or any value outside 0..16): no grpc-status is sent. */
  grpcStatus: number | null;
  /** True for the 503 Envoy sends when the VM trapped (details "wasm_fail_stream"). */
  failure: boolean;
}

export interface StreamSide {
  headers: HeaderMap;
  body: Uint8Array;
  trailers: HeaderMap;
  /** The last action the module returned for this side (raw value, >4 clamped to 4). */
  action: number | null;
  /** True while the module has paused this side (until proxy_continue_stream). */
  paused: boolean;
}

export interface CallbackOptions {
  endOfStream?: boolean;
}

const EMPTY = new Uint8Array(0);
const newSide = (): StreamSide => ({
  headers: new HeaderMap(),
  body: EMPTY,
  trailers: new HeaderMap(),
  action: null,
  paused: false,
});

export class HttpStream {
  readonly request: StreamSide = newSide();
  readonly response: StreamSide = newSide();
  localResponse: LocalResponse | null = null;
  /** Set when the module closed the stream with proxy_close_stream (Envoy resets it). */
  reset = false;
  /** Properties written by the module with proxy_set_property (Envoy keeps them in filter state). */
  readonly filterState = new Map<string, Uint8Array>();
  /** Which header maps the module may touch right now (Envoy drops them once a side continues). */
  readonly available = {
    requestHeaders: false,
    requestTrailers: false,
    responseHeaders: false,
    responseTrailers: false,
  };
  accessLogPhase = false;
  completed = false;
  /** Resolves listeners when the module resumes a paused side (e.g. after an HTTP call). */
  onResume: ((side: "request" | "response") => void) | null = null;

  constructor(
    private readonly host: ProxyWasmHost,
    readonly id: number,
    readonly rootContextId: number,
    /** Encoded per-stream properties, consulted before the host's (e.g. this connection's peer certificate). */
    readonly properties: Map<string, Uint8Array>,
  ) {}

  /** Request headers as they are now, after the module ran (what Envoy would forward upstream). */
  requestHeaderPairs(): HeaderPairs {
    return this.request.headers.pairs();
  }

  /** Delivers the request headers (keys lower-cased); returns the module's action (0 = Continue). */
  requestHeaders(pairs: ReadonlyArray<readonly [string, string]>, opts: CallbackOptions = {}): number {
    this.assertOpen("request headers");
    this.request.headers.setPairs(pairs);
    this.available.requestHeaders = true;
    const eos = opts.endOfStream ?? true;
    const result = this.host.invokeStream(this, "proxy_on_request_headers", this.request.headers.size, eos ? 1 : 0);
    return this.settle(this.request, result, "requestHeaders", HeadersAction.StopIteration, 4);
  }

  requestBody(data: Uint8Array | string, opts: CallbackOptions = {}): number {
    this.assertOpen("request body");
    this.request.body = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const eos = opts.endOfStream ?? true;
    const result = this.host.invokeStream(this, "proxy_on_request_body", this.request.body.length, eos ? 1 : 0);
    return this.settle(this.request, result, null, DataAction.StopIterationNoBuffer, 3);
  }

  requestTrailers(pairs: ReadonlyArray<readonly [string, string]>): number {
    this.assertOpen("request trailers");
    this.request.trailers.setPairs(pairs);
    this.available.requestTrailers = true;
    const result = this.host.invokeStream(this, "proxy_on_request_trailers", this.request.trailers.size);
    return this.settle(this.request, result, "requestTrailers", 1, 1);
  }

  responseHeaders(pairs: ReadonlyArray<readonly [string, string]>, opts: CallbackOptions = {}): number {
    this.assertOpen("response headers");
    this.response.headers.setPairs(pairs);
    return this.deliverResponseHeaders(opts.endOfStream ?? false);
  }

  responseBody(data: Uint8Array | string, opts: CallbackOptions = {}): number {
    this.assertOpen("response body");
    this.response.body = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return this.deliverResponseBody(opts.endOfStream ?? true);
  }

  responseTrailers(pairs: ReadonlyArray<readonly [string, string]>): number {
    this.assertOpen("response trailers");
    this.response.trailers.setPairs(pairs);
    this.available.responseTrailers = true;
    const result = this.host.invokeStream(this, "proxy_on_response_trailers", this.response.trailers.size);
    return this.settle(this.response, result, "responseTrailers", 1, 1);
  }

  /** End of the stream: proxy_on_done, proxy_on_log (access-log phase), proxy_on_delete. */
  complete(): void {
    if (this.completed) return;
    this.completed = true;
    this.host.finishStream(this);
  }

  /** Internal: the response-side header callback (also used for local replies). */
  deliverResponseHeaders(endOfStream: boolean): number {
    this.available.responseHeaders = true;
    const result = this.host.invokeStream(
      this,
      "proxy_on_response_headers",
      this.response.headers.size,
      endOfStream ? 1 : 0,
    );
    return this.settle(this.response, result, "responseHeaders", HeadersAction.StopIteration, 4);
  }

  deliverResponseBody(endOfStream: boolean): number {
    const result = this.host.invokeStream(
      this,
      "proxy_on_response_body",
      this.response.body.length,
      endOfStream ? 1 : 0,
    );
    return this.settle(this.response, result, null, DataAction.StopIterationNoBuffer, 3);
  }

  /** Internal: Envoy's failStream — a 503 local reply that no Wasm callback sees. */
  failStream(): void {
    if (this.localResponse?.failure) return;
    this.localResponse = {
      statusCode: 503,
      details: "wasm_fail_stream",
      body: new Uint8Array(0),
      headers: new HeaderMap([[":status", "503"]]),
      grpcStatus: GRPC_UNAVAILABLE,
      failure: true,
    };
  }

  private assertOpen(what: string): void {
    if (this.completed) throw new Error(`stream ${this.id} is complete; cannot deliver ${what}`);
    if (this.localResponse && !what.startsWith("response")) {
      throw new Error(
        `stream ${this.id} was answered locally (${this.localResponse.statusCode}); Envoy stops decoding`,
      );
    }
    if (this.localResponse?.failure) throw new Error(`stream ${this.id} failed (wasm_fail_stream)`);
  }

  /**
   * Records a callback's result. `result` undefined means the call did not reach the module
   * (no export, or a failed VM that is open). Continue releases the header map from the module.
   */
  private settle(
    side: StreamSide,
    result: number | undefined,
    map: keyof HttpStream["available"] | null,
    stopValue: number,
    max: number,
  ): number {
    let action = result === undefined ? 0 : result > max ? max : result;
    if (this.localResponse?.failure) action = stopValue;
    side.action = action;
    side.paused = action !== 0 && !this.localResponse;
    if (action === 0 && map) this.available[map] = false;
    return action;
  }
}
