// Entry point: the Proxy-Wasm ABI 0.2.1 callbacks Envoy calls. Every export has the exact
// signature Envoy checks; no callback can throw, so none can trap the VM.
import { BufferType, LogLevel, Status } from "./abi";
import { ContextTable } from "./context-table";
import { onRequestHeaders, onRequestTrailers } from "./filter";
import { collectIfDue, collectNow } from "./gc";
import { getBuffer, HostBuffer, log } from "./hostcalls";
import { defineMetrics } from "./metrics";
import { RootContext } from "./root";
import "./abort"; // provides the runtime abort handler (see scripts/build.mjs --use abort=...)

const roots = new ContextTable<RootContext>();
const streams = new ContextTable<RootContext>();
const configBuffer = new HostBuffer();

export function proxy_abi_version_0_2_1(): void {}

/** The host copies data in through this allocator; the filter frees each copy with heap.free. */
export function malloc(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    if (roots.get(contextId) === null) roots.set(contextId, new RootContext(contextId));
    return;
  }
  const root = roots.get(parentId);
  if (root !== null) streams.set(contextId, root);
}

export function proxy_on_vm_start(rootId: u32, vmConfigSize: u32): bool {
  return true; // the VM configuration is not used; everything is in the plugin configuration
}

export function proxy_on_configure(rootId: u32, configSize: u32): bool {
  let root = roots.get(rootId);
  if (root === null) {
    root = new RootContext(rootId);
    roots.set(rootId, root);
  }
  defineMetrics();
  if (configSize > 0) {
    if (getBuffer(BufferType.PluginConfiguration, configSize, configBuffer) != Status.Ok) {
      configBuffer.release();
      log(LogLevel.Error, "trustgate: invalid plugin configuration: the host did not hand it over");
      return false;
    }
  } else {
    configBuffer.release();
  }
  const ok = root.configure(configBuffer.ptr, configBuffer.len);
  configBuffer.release();
  collectNow();
  return ok;
}

export function proxy_on_tick(rootId: u32): void {
  const root = roots.get(rootId);
  if (root !== null) root.tick();
  collectNow();
}

export function proxy_on_http_call_response(
  rootId: u32,
  token: u32,
  numHeaders: u32,
  bodySize: u32,
  numTrailers: u32,
): void {
  const root = roots.get(rootId);
  if (root !== null) root.onHttpCallResponse(token, numHeaders, bodySize);
  collectNow();
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  const action = onRequestHeaders(streams.get(contextId));
  collectIfDue();
  return action;
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): u32 {
  const action = onRequestTrailers(streams.get(contextId));
  collectIfDue();
  return action;
}

/** Nothing is pending at shutdown: every context is done at once (true), root contexts included. */
export function proxy_on_done(contextId: u32): bool {
  return true;
}

export function proxy_on_delete(contextId: u32): void {
  if (roots.get(contextId) !== null) {
    roots.delete(contextId);
    collectNow();
  } else {
    streams.delete(contextId);
  }
}
