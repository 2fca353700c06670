// Thin wrappers around the host functions: the only module that calls them. None allocates except
// `log` (it encodes the message) and `serializePairs`. Every status is returned to the caller;
// nothing here throws, so no ABI error can trap the VM.
import {
  LogLevel,
  MapType,
  MetricType,
  Status,
  proxy_define_metric,
  proxy_get_buffer_bytes,
  proxy_get_current_time_nanoseconds,
  proxy_get_header_map_pairs,
  proxy_get_header_map_value,
  proxy_get_log_level,
  proxy_get_property,
  proxy_http_call,
  proxy_increment_metric,
  proxy_log,
  proxy_record_metric,
  proxy_remove_header_map_value,
  proxy_replace_header_map_value,
  proxy_send_local_response,
  proxy_set_tick_period_milliseconds,
} from "./abi";

// Two u32 return slots (pointer, size) the host writes into, plus a u64 slot.
const RET: usize = memory.data(8, 8);
const RET_U64: usize = memory.data(8, 8);

/** Memory the host copied into the module (through `malloc`). The module owns it and frees it here. */
export class HostBuffer {
  ptr: usize = 0;
  len: usize = 0;
  status: i32 = Status.NotFound;

  get present(): bool {
    return this.status == Status.Ok;
  }

  release(): void {
    if (this.ptr != 0) heap.free(this.ptr);
    this.ptr = 0;
    this.len = 0;
    this.status = Status.NotFound;
  }

  /** Takes what the host wrote into the return slots after a call that returned `status`. */
  take(status: i32): i32 {
    this.release();
    this.status = status;
    if (status == Status.Ok) {
      this.ptr = load<u32>(RET);
      this.len = load<u32>(RET, 4);
      // An empty value arrives as ptr=0/size=0; a non-empty one with a null pointer is not usable.
      if (this.ptr == 0) this.len = 0;
    }
    return status;
  }

  toString(): string {
    return this.len == 0 ? "" : String.UTF8.decodeUnsafe(this.ptr, this.len);
  }
}

/**
 * A u32 the host returns through an out-parameter (metric id, HTTP call token), meaningful only
 * after a call that returned Status.Ok. Lives in static memory (no allocation, nothing for the
 * collector): make one per use with `newHostU32()` at module level.
 */
@unmanaged
export class HostU32 {
  value: u32;
}

@inline
export function newHostU32(): HostU32 {
  return changetype<HostU32>(memory.data(4, 4));
}

function clearSlots(): void {
  store<u32>(RET, 0);
  store<u32>(RET, 0, 4);
}

/** `path` is the NUL-joined property path, e.g. "connection\0mtls". */
export function getProperty(path: ArrayBuffer, out: HostBuffer): i32 {
  clearSlots();
  return out.take(proxy_get_property(changetype<usize>(path), path.byteLength, RET, RET + 4));
}

export function getHeader(map: MapType, name: ArrayBuffer, out: HostBuffer): i32 {
  clearSlots();
  return out.take(proxy_get_header_map_value(map, changetype<usize>(name), name.byteLength, RET, RET + 4));
}

export function getBuffer(type: i32, size: u32, out: HostBuffer): i32 {
  clearSlots();
  return out.take(proxy_get_buffer_bytes(type, 0, size, RET, RET + 4));
}

/** Every pair of header map `map`, in the ABI's pairs format (see `serializePairs`). */
export function getHeaderPairs(map: MapType, out: HostBuffer): i32 {
  clearSlots();
  return out.take(proxy_get_header_map_pairs(map, RET, RET + 4));
}

/** Removes every line of header [namePtr, namePtr+nameLen) from `map`. */
export function removeHeader(map: MapType, namePtr: usize, nameLen: usize): i32 {
  return proxy_remove_header_map_value(map, namePtr, nameLen);
}

/** Sets header `name` of `map` to [valuePtr, valuePtr+valueLen), replacing every line it had. */
export function replaceHeader(map: MapType, name: ArrayBuffer, valuePtr: usize, valueLen: usize): i32 {
  return proxy_replace_header_map_value(map, changetype<usize>(name), name.byteLength, valuePtr, valueLen);
}

/** A local reply; `headerPairs` in the pairs format, `grpcStatus` -1 for none. */
export function sendLocalResponse(
  statusCode: u32,
  details: ArrayBuffer,
  body: ArrayBuffer,
  headerPairs: ArrayBuffer,
  grpcStatus: i32,
): i32 {
  return proxy_send_local_response(
    statusCode,
    changetype<usize>(details),
    details.byteLength,
    changetype<usize>(body),
    body.byteLength,
    changetype<usize>(headerPairs),
    headerPairs.byteLength,
    grpcStatus,
  );
}

/** A request without body or trailers to cluster `upstream`; the call's token goes to `token`. */
export function httpCall(upstream: ArrayBuffer, headerPairs: ArrayBuffer, timeoutMs: u32, token: HostU32): i32 {
  token.value = 0;
  return proxy_http_call(
    changetype<usize>(upstream),
    upstream.byteLength,
    changetype<usize>(headerPairs),
    headerPairs.byteLength,
    0,
    0,
    0,
    0,
    timeoutMs,
    changetype<usize>(token),
  );
}

/** 0 turns the tick off. */
export function setTickPeriod(periodMs: u32): i32 {
  return proxy_set_tick_period_milliseconds(periodMs);
}

export function defineMetric(type: MetricType, name: ArrayBuffer, id: HostU32): i32 {
  id.value = 0;
  return proxy_define_metric(type, changetype<usize>(name), name.byteLength, changetype<usize>(id));
}

export function incrementMetric(id: u32, delta: i64): i32 {
  return proxy_increment_metric(id, delta);
}

export function recordMetric(id: u32, value: u64): i32 {
  return proxy_record_metric(id, value);
}

/** The host clock in nanoseconds, 0 when the host cannot tell. */
export function nowNanos(): u64 {
  store<u64>(RET_U64, 0);
  if (proxy_get_current_time_nanoseconds(RET_U64) != Status.Ok) return 0;
  return load<u64>(RET_U64);
}

export function log(level: LogLevel, message: string): i32 {
  const bytes = String.UTF8.encode(message);
  return proxy_log(level, changetype<usize>(bytes), bytes.byteLength);
}

/** Whether the host would print a message at `level`; lets hot paths skip building debug strings. */
export function logEnabled(level: LogLevel): bool {
  store<u32>(RET_U64, LogLevel.Info);
  if (proxy_get_log_level(RET_U64) != Status.Ok) return level >= LogLevel.Info;
  return <u32>level >= load<u32>(RET_U64);
}

/** Header pairs in the ABI's wire format: u32 count, count × (u32 keyLen, u32 valueLen), then `key\0value\0`. */
export function serializePairs(keys: Array<string>, values: Array<string>): ArrayBuffer {
  const n = keys.length;
  const encodedKeys = new Array<ArrayBuffer>(n);
  const encodedValues = new Array<ArrayBuffer>(n);
  let size: i32 = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    encodedKeys[i] = String.UTF8.encode(keys[i]);
    encodedValues[i] = String.UTF8.encode(values[i]);
    size += encodedKeys[i].byteLength + encodedValues[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, n);
  let data = base + 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const k = encodedKeys[i];
    const v = encodedValues[i];
    store<u32>(base + 4 + 8 * i, k.byteLength);
    store<u32>(base + 8 + 8 * i, v.byteLength);
    memory.copy(data, changetype<usize>(k), k.byteLength);
    data += k.byteLength;
    store<u8>(data++, 0);
    memory.copy(data, changetype<usize>(v), v.byteLength);
    data += v.byteLength;
    store<u8>(data++, 0);
  }
  return out;
}
