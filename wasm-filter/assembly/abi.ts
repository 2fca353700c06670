// Proxy-Wasm ABI 0.2.1 host functions (module "env") and the enum values this filter uses.
// Only what the filter calls is declared: AssemblyScript links just the imports that are used,
// and Envoy refuses a module that imports something it does not provide.

export const enum Status {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
}

export const enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

export const enum MapType {
  RequestHeaders = 0,
  RequestTrailers = 1,
  HttpCallResponseHeaders = 6,
}

export const enum BufferType {
  HttpCallResponseBody = 4,
  PluginConfiguration = 7,
}

export const enum MetricType {
  Counter = 0,
  Gauge = 1,
}

export const enum HeadersAction {
  Continue = 0,
  StopIteration = 1,
}

/** FilterTrailersStatus. */
export const enum TrailersAction {
  Continue = 0,
  StopIteration = 1,
}

@external("env", "proxy_log")
export declare function proxy_log(level: i32, msgPtr: usize, msgSize: usize): i32;

@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(retLevelPtr: usize): i32;

@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(retPtr: usize): i32;

@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(periodMs: u32): i32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(pathPtr: usize, pathSize: usize, retPtrPtr: usize, retSizePtr: usize): i32;

@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(
  mapType: i32,
  keyPtr: usize,
  keySize: usize,
  retPtrPtr: usize,
  retSizePtr: usize,
): i32;

@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(
  mapType: i32,
  keyPtr: usize,
  keySize: usize,
  valuePtr: usize,
  valueSize: usize,
): i32;

@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(mapType: i32, keyPtr: usize, keySize: usize): i32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: i32, retPtrPtr: usize, retSizePtr: usize): i32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(
  bufferType: i32,
  start: u32,
  maxSize: u32,
  retPtrPtr: usize,
  retSizePtr: usize,
): i32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  statusCode: u32,
  detailsPtr: usize,
  detailsSize: usize,
  bodyPtr: usize,
  bodySize: usize,
  headerPairsPtr: usize,
  headerPairsSize: usize,
  grpcStatus: i32,
): i32;

@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstreamPtr: usize,
  upstreamSize: usize,
  headerPairsPtr: usize,
  headerPairsSize: usize,
  bodyPtr: usize,
  bodySize: usize,
  trailerPairsPtr: usize,
  trailerPairsSize: usize,
  timeoutMs: u32,
  retTokenPtr: usize,
): i32;

@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metricType: i32, namePtr: usize, nameSize: usize, retIdPtr: usize): i32;

@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metricId: u32, delta: i64): i32;

@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metricId: u32, value: u64): i32;
