// Public API of the TypeScript proxy-wasm host (see README.md).
export { BufferType, DataAction, HeadersAction, LogLevel, MapType, MetricType, Status, StreamType } from "./abi.js";
export { HeaderMap } from "./header-map.js";
export {
  type HostOptions,
  type HttpCallout,
  type HttpCallResponse,
  type LogEntry,
  type Metric,
  ProxyWasmHost,
  type StreamOptions,
  WasmLoadError,
} from "./host.js";
export { decodePairs, encodePairs, type HeaderPairs } from "./pairs.js";
export { encodeProperty, type PropertyMap, type PropertyValue, prop } from "./properties.js";
export { type CallbackOptions, HttpStream, type LocalResponse, type StreamSide } from "./stream.js";
