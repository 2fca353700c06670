/**
 * Formats an X.509 distinguished name as an RFC 2253 string, the way Envoy reports
 * `connection.subject_peer_certificate` (OpenSSL's XN_FLAG_RFC2253): most specific RDN first, RDNs joined by ",",
 * multi-valued RDNs joined by "+", special characters escaped with a backslash.
 */

/** The JSON form @peculiar/x509 gives for a Name: one object per RDN, attribute short name → values. */
export type NameJson = ReadonlyArray<Readonly<Record<string, readonly string[]>>>;

function escapeValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const special = ch === "," || ch === "+" || ch === '"' || ch === "\\" || ch === "<" || ch === ">" || ch === ";";
    const edge = (i === 0 && (ch === " " || ch === "#")) || (i === value.length - 1 && ch === " ");
    out += special || edge ? `\\${ch}` : ch;
  }
  return out;
}

export function formatRfc2253(name: NameJson): string {
  const rdns: string[] = [];
  for (let i = name.length - 1; i >= 0; i--) {
    const parts: string[] = [];
    for (const [type, values] of Object.entries(name[i]!)) {
      for (const value of values) parts.push(`${type}=${escapeValue(value)}`);
    }
    rdns.push(parts.join("+"));
  }
  return rdns.join(",");
}
