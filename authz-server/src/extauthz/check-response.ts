/**
 * The shape of an `envoy.service.auth.v3.CheckResponse` as trustgate's codec encodes it (protobufjs field names in
 * lowerCamelCase), and the codes and headers trustgate answers with.
 */

export interface HeaderOption {
  header: { key: string; value: string };
  append: { value: boolean };
}

export interface StructValue {
  stringValue?: string;
  numberValue?: number;
  boolValue?: boolean;
}

export interface CheckResponseMessage {
  status: { code: number; message?: string };
  deniedResponse?: { status: { code: number }; headers: HeaderOption[]; body: string };
  okResponse?: { headers: HeaderOption[]; headersToRemove?: string[] };
  dynamicMetadata?: { fields: Record<string, StructValue> };
}

/** google.rpc.Code values trustgate answers with. */
export const GRPC_OK = 0;
export const GRPC_PERMISSION_DENIED = 7;
export const GRPC_UNAUTHENTICATED = 16;

export const DECISION_ID_HEADER = "x-trustgate-decision-id";
