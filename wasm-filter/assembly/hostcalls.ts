// Thin, allocation-free wrappers around the host functions. Every status is returned to the caller;
// nothing here throws, so no ABI error can trap the VM.
import {
  LogLevel,
  MapType,
  Status,
  proxy_get_buffer_bytes,
  proxy_get_current_time_nanoseconds,
  proxy_get_header_map_value,
  proxy_get_log_level,
  proxy_get_property,
  proxy_log,
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

/** Calls a host function that returns a pointer/size pair into the RET slots (used for header pairs). */
export function retSlots(): usize {
  clearSlots();
  return RET;
}

export function nowNanos(): u64 {
  store<u64>(RET_U64, 0);
  proxy_get_current_time_nanoseconds(RET_U64);
  return load<u64>(RET_U64);
}

export function log(level: LogLevel, message: string): void {
  const bytes = String.UTF8.encode(message);
  proxy_log(level, changetype<usize>(bytes), bytes.byteLength);
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
