/**
 * Whether bytes are a well-formed protobuf encoding of a message type, judged strictly: every field of a known
 * number must carry the wire type its declared type has (protobufjs's decoder does not check this for known fields,
 * so two decoders that know different field sets can disagree on malformed bytes), lengths must stay inside their
 * message, and strings must be valid UTF-8 (as proto3 requires). The fuzzer only expects an answer other than a gRPC
 * error for bytes that pass.
 */
import protobuf from "protobufjs";

const VARINT = new Set(["int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool"]);
const FIXED64 = new Set(["fixed64", "sfixed64", "double"]);
const FIXED32 = new Set(["fixed32", "sfixed32", "float"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

function scalarWireType(type: string, field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Enum || VARINT.has(type)) return 0;
  if (FIXED64.has(type)) return 1;
  if (FIXED32.has(type)) return 5;
  return 2; // string, bytes, messages
}

function checkMessage(type: protobuf.Type, bytes: Uint8Array, depth: number): boolean {
  if (depth > 64) return false;
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const number = tag >>> 3;
    const wireType = tag & 7;
    if (number === 0) return false;
    const field = type.fieldsById[number];
    if (!field) {
      reader.skipType(wireType);
      continue;
    }
    field.resolve();
    if (field instanceof protobuf.MapField) {
      if (wireType !== 2) return false;
      const entry = reader.bytes();
      const entryType = new protobuf.Type("Entry")
        .add(new protobuf.Field("key", 1, field.keyType))
        .add(new protobuf.Field("value", 2, field.type));
      if (field.resolvedType) {
        (entryType.fieldsById[2] as protobuf.Field).resolvedType = field.resolvedType;
      }
      if (!checkMessage(entryType, entry, depth + 1)) return false;
      continue;
    }
    const expected = scalarWireType(field.type, field);
    const packed = field.repeated && expected !== 2 && wireType === 2;
    if (wireType !== expected && !packed) return false;
    if (packed) {
      reader.bytes();
      continue;
    }
    if (expected === 2) {
      const value = reader.bytes();
      if (field.resolvedType instanceof protobuf.Type) {
        if (!checkMessage(field.resolvedType, value, depth + 1)) return false;
      } else if (field.type === "string") {
        try {
          utf8.decode(value);
        } catch {
          return false;
        }
      }
    } else reader.skipType(wireType);
  }
  return reader.pos === reader.len;
}

export function wellFormed(type: protobuf.Type, bytes: Uint8Array): boolean {
  try {
    return checkMessage(type, bytes, 0);
  } catch {
    return false;
  }
}
