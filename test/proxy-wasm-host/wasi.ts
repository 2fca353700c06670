// The WASI subset Envoy provides (wasi_unstable and wasi_snapshot_preview1): stdout/stderr become
// logs at info/error, a clock, random bytes, empty environment and arguments; proc_exit only records.
import { LogLevel } from "./abi.js";
import type { ProxyWasmHost } from "./host.js";

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;
const ERRNO_NOSYS = 52;
const u = (v: number): number => v >>> 0;

export function createWasiImports(host: ProxyWasmHost): Record<string, (...a: never[]) => unknown> {
  const mem = () => host.memory;
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      const level = fd === 1 ? LogLevel.Info : fd === 2 ? LogLevel.Error : -1;
      if (level < 0) return ERRNO_BADF;
      let text = "";
      for (let i = 0; i < u(iovsLen); i++) {
        const iov = mem().read(u(iovs) + i * 8, 8);
        if (!iov) return ERRNO_FAULT;
        const view = new DataView(iov.buffer);
        const chunk = mem().readString(view.getUint32(0, true), view.getUint32(4, true));
        if (chunk === null) return ERRNO_FAULT;
        text += chunk;
      }
      const written = Buffer.byteLength(text);
      if (written > 0) host.recordLog(level, text.endsWith("\n") ? text.slice(0, -1) : text);
      return mem().writeU32(u(nwrittenPtr), written) ? ERRNO_SUCCESS : ERRNO_FAULT;
    },
    fd_read: () => ERRNO_NOSYS,
    fd_seek: () => ERRNO_SUCCESS,
    fd_close: () => ERRNO_SUCCESS,
    fd_fdstat_get(fd: number, statPtr: number): number {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const stat = new Uint8Array(24);
      new DataView(stat.buffer).setBigUint64(8, 64n, true); // fs_rights_base = FD_WRITE
      return mem().write(u(statPtr), stat) ? ERRNO_SUCCESS : ERRNO_FAULT;
    },
    environ_get: () => ERRNO_SUCCESS,
    environ_sizes_get: (countPtr: number, sizePtr: number) =>
      mem().writeU32(u(countPtr), 0) && mem().writeU32(u(sizePtr), 0) ? ERRNO_SUCCESS : ERRNO_FAULT,
    args_get: () => ERRNO_SUCCESS,
    args_sizes_get: (countPtr: number, sizePtr: number) =>
      mem().writeU32(u(countPtr), 0) && mem().writeU32(u(sizePtr), 0) ? ERRNO_SUCCESS : ERRNO_FAULT,
    clock_time_get(_clockId: number, _precision: bigint, retPtr: number): number {
      return mem().writeU64(u(retPtr), host.now()) ? ERRNO_SUCCESS : ERRNO_FAULT;
    },
    random_get(bufPtr: number, len: number): number {
      const bytes = new Uint8Array(u(len));
      host.randomFill(bytes);
      return mem().write(u(bufPtr), bytes) ? ERRNO_SUCCESS : ERRNO_FAULT;
    },
    proc_exit(code: number): void {
      // Envoy only records this (at trace); the module usually traps right after.
      host.recordLog(LogLevel.Trace, `wasi proc_exit(${code})`);
    },
  };
}
