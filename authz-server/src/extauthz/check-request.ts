/**
 * The shape of a decoded `envoy.service.auth.v3.CheckRequest` as trustgate's codec produces it (protobufjs field
 * names in lowerCamelCase, maps as plain objects). Only the fields trustgate reads are listed; every field may be
 * absent on the wire, so everything is optional here and checked before use.
 */

export interface SocketAddressMessage {
  address?: string;
  portValue?: number;
}

export interface AddressMessage {
  socketAddress?: SocketAddressMessage | null;
  pipe?: { path?: string } | null;
}

export interface PeerMessage {
  address?: AddressMessage | null;
  service?: string;
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}

export interface HttpRequestMessage {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  headerMap?: { headers?: Array<{ key?: string; value?: string; rawValue?: Uint8Array }> } | null;
  path?: string;
  host?: string;
  scheme?: string;
  protocol?: string;
  size?: number;
}

/** `google.protobuf.Value`: exactly one of the fields is set (`kind` names it on decoded messages). */
export interface StructValueMessage {
  kind?: string;
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage | null;
  listValue?: { values?: StructValueMessage[] } | null;
}

/** `google.protobuf.Struct`. */
export interface StructMessage {
  fields?: Record<string, StructValueMessage>;
}

/** `envoy.config.core.v3.Metadata`: dynamic metadata by filter namespace. */
export interface MetadataMessage {
  filterMetadata?: Record<string, StructMessage>;
}

export interface AttributeContextMessage {
  source?: PeerMessage | null;
  destination?: PeerMessage | null;
  request?: { time?: unknown; http?: HttpRequestMessage | null } | null;
  contextExtensions?: Record<string, string>;
  tlsSession?: { sni?: string } | null;
  metadataContext?: MetadataMessage | null;
}

export interface CheckRequestMessage {
  attributes?: AttributeContextMessage | null;
  /**
   * Set (and nothing else) when the bytes did not decode as a CheckRequest, with the decoder's reason: the server
   * answers such a request with a deny rather than a gRPC error, which Envoy's `failure_mode_allow` would turn into
   * an allow.
   */
  undecodable?: string;
}

/** The request the server hands on for bytes that are not a CheckRequest (see `undecodable`). */
export function undecodableRequest(error: unknown): CheckRequestMessage {
  return { undecodable: error instanceof Error ? error.message : String(error) };
}
