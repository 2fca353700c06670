// The host's function table with exact signatures (cpp-host registerCallbacks), and the callback
// signatures Envoy checks on the module's exports (a mismatch fails the VM under V8).
import type { FuncType, ValType } from "./wasm-binary.js";

const i32 = (n: number): ValType[] => Array.from({ length: n }, () => "i32" as const);
const fn = (params: ValType[], results: ValType[] = ["i32"]): FuncType => ({ params, results });

/** env imports every ABI 0.2.x module may use. */
export const ENV_IMPORTS: Record<string, FuncType> = {
  proxy_log: fn(i32(3)),
  proxy_get_status: fn(i32(3)),
  proxy_set_property: fn(i32(4)),
  proxy_get_property: fn(i32(4)),
  proxy_send_local_response: fn(i32(8)),
  proxy_get_shared_data: fn(i32(5)),
  proxy_set_shared_data: fn(i32(5)),
  proxy_register_shared_queue: fn(i32(3)),
  proxy_resolve_shared_queue: fn(i32(5)),
  proxy_dequeue_shared_queue: fn(i32(3)),
  proxy_enqueue_shared_queue: fn(i32(3)),
  proxy_get_header_map_value: fn(i32(5)),
  proxy_add_header_map_value: fn(i32(5)),
  proxy_replace_header_map_value: fn(i32(5)),
  proxy_remove_header_map_value: fn(i32(3)),
  proxy_get_header_map_pairs: fn(i32(3)),
  proxy_set_header_map_pairs: fn(i32(3)),
  proxy_get_header_map_size: fn(i32(2)),
  proxy_get_buffer_status: fn(i32(3)),
  proxy_get_buffer_bytes: fn(i32(5)),
  proxy_set_buffer_bytes: fn(i32(5)),
  proxy_http_call: fn(i32(10)),
  proxy_grpc_call: fn(i32(12)),
  proxy_grpc_stream: fn(i32(9)),
  proxy_grpc_close: fn(i32(1)),
  proxy_grpc_cancel: fn(i32(1)),
  proxy_grpc_send: fn(i32(4)),
  proxy_set_tick_period_milliseconds: fn(i32(1)),
  proxy_get_current_time_nanoseconds: fn(i32(1)),
  proxy_define_metric: fn(i32(4)),
  proxy_increment_metric: fn(["i32", "i64"]),
  proxy_record_metric: fn(["i32", "i64"]),
  proxy_get_metric: fn(i32(2)),
  proxy_set_effective_context: fn(i32(1)),
  proxy_done: fn([]),
  proxy_call_foreign_function: fn(i32(6)),
  pthread_equal: fn(i32(2)),
};

/** Registered only for ABI 0.2.0 / 0.2.1 modules. */
export const ENV_IMPORTS_0_2: Record<string, FuncType> = {
  proxy_continue_stream: fn(i32(1)),
  proxy_close_stream: fn(i32(1)),
};

/** Registered only when the module exports proxy_abi_version_0_2_1. */
export const ENV_IMPORTS_0_2_1: Record<string, FuncType> = {
  proxy_get_log_level: fn(i32(1)),
};

/** Provided under both wasi_unstable and wasi_snapshot_preview1. */
export const WASI_IMPORTS: Record<string, FuncType> = {
  fd_write: fn(i32(4)),
  fd_read: fn(i32(4)),
  fd_seek: fn(["i32", "i64", "i32", "i32"]),
  fd_close: fn(i32(1)),
  fd_fdstat_get: fn(i32(2)),
  environ_get: fn(i32(2)),
  environ_sizes_get: fn(i32(2)),
  args_get: fn(i32(2)),
  args_sizes_get: fn(i32(2)),
  clock_time_get: fn(["i32", "i64", "i32"]),
  random_get: fn(i32(2)),
  proc_exit: fn(i32(1), []),
};

/** Module callbacks and the signatures Envoy requires (ABI 0.2.x). */
export const CALLBACKS: Record<string, FuncType> = {
  _initialize: fn([], []),
  _start: fn([], []),
  __wasm_call_ctors: fn([], []),
  malloc: fn(i32(1)),
  proxy_on_memory_allocate: fn(i32(1)),
  proxy_on_context_create: fn(i32(2), []),
  proxy_on_vm_start: fn(i32(2)),
  proxy_validate_configuration: fn(i32(2)),
  proxy_on_configure: fn(i32(2)),
  proxy_on_tick: fn(i32(1), []),
  proxy_on_foreign_function: fn(i32(3), []),
  proxy_on_queue_ready: fn(i32(2), []),
  proxy_on_request_headers: fn(i32(3)),
  proxy_on_request_body: fn(i32(3)),
  proxy_on_request_trailers: fn(i32(2)),
  proxy_on_request_metadata: fn(i32(2)),
  proxy_on_response_headers: fn(i32(3)),
  proxy_on_response_body: fn(i32(3)),
  proxy_on_response_trailers: fn(i32(2)),
  proxy_on_response_metadata: fn(i32(2)),
  proxy_on_http_call_response: fn(i32(5), []),
  proxy_on_grpc_receive_initial_metadata: fn(i32(3), []),
  proxy_on_grpc_receive_trailing_metadata: fn(i32(3), []),
  proxy_on_grpc_receive: fn(i32(3), []),
  proxy_on_grpc_close: fn(i32(3), []),
  proxy_on_new_connection: fn(i32(1)),
  proxy_on_downstream_data: fn(i32(3)),
  proxy_on_upstream_data: fn(i32(3)),
  proxy_on_downstream_connection_close: fn(i32(2), []),
  proxy_on_upstream_connection_close: fn(i32(2), []),
  proxy_on_done: fn(i32(1)),
  proxy_on_log: fn(i32(1), []),
  proxy_on_delete: fn(i32(1), []),
};

export function sameType(a: FuncType, b: FuncType): boolean {
  return a.params.join() === b.params.join() && a.results.join() === b.results.join();
}
