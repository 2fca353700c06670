// A root context: one per plugin (root_id) in the VM. Holds the configuration and the revocation
// list, and polls trustgate for the list on every tick with an HTTP call.
import { BufferType, LogLevel, MapType, Status } from "./abi";
import { Config, configError, parseConfig } from "./config";
import { getBuffer, getHeader, HostBuffer, httpCall, log, newHostU32, serializePairs, setTickPeriod } from "./hostcalls";
import { increment, metrics, record } from "./metrics";
import { MAX_BODY_BYTES, parseRevocationList, RevocationList, revocationParseError } from "./revocation";

const STATUS_HEADER = String.UTF8.encode(":status");
const pollToken = newHostU32();
const scratch = new HostBuffer();

export class RootContext {
  config: Config | null = null;
  list: RevocationList = RevocationList.empty();
  /** Token of the poll in flight, 0 when none. */
  pendingToken: u32 = 0;

  constructor(public id: u32) {}

  configure(ptr: usize, len: usize): bool {
    const cfg = parseConfig(ptr, len);
    if (cfg === null) {
      log(LogLevel.Error, "trustgate: invalid plugin configuration: " + configError);
      return false;
    }
    this.config = cfg;
    const r = cfg.revocation;
    setTickPeriod(r === null ? 0 : r.pollMs);
    if (r === null) this.list = RevocationList.empty();
    log(
      LogLevel.Info,
      "trustgate: configured, revocation polling " +
        (r === null ? "off" : "of " + r.cluster + r.path + " every " + r.pollMs.toString() + " ms"),
    );
    return true;
  }

  tick(): void {
    const cfg = this.config;
    if (cfg === null) return;
    const r = cfg.revocation;
    if (r === null || this.pendingToken != 0) return; // one poll at a time
    const keys = [":method", ":path", ":authority"];
    const values = ["GET", r.path, r.authority];
    if (this.list.version > 0) {
      keys.push("if-none-match");
      values.push('"' + this.list.version.toString() + '"');
    }
    const headers = serializePairs(keys, values);
    const cluster = String.UTF8.encode(r.cluster);
    const status = httpCall(cluster, headers, r.timeoutMs, pollToken);
    if (status != Status.Ok) {
      this.pollFailed("could not dispatch the call to cluster " + r.cluster + " (status " + status.toString() + ")");
      return;
    }
    this.pendingToken = pollToken.value;
  }

  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32): void {
    if (token == 0 || token != this.pendingToken) return; // not ours (or a stale answer)
    this.pendingToken = 0;
    if (numHeaders == 0) {
      this.pollFailed("the call failed (reset, timeout or no healthy upstream)");
      return;
    }
    if (getHeader(MapType.HttpCallResponseHeaders, STATUS_HEADER, scratch) != Status.Ok) {
      scratch.release();
      this.pollFailed("the response has no :status");
      return;
    }
    const status = scratch.toString();
    scratch.release();
    if (status == "304" && this.list.version > 0) {
      increment(metrics.revocationPolls);
      return; // unchanged: the cheap, common case
    }
    if (status != "200") {
      this.pollFailed("unexpected HTTP status " + status);
      return;
    }
    if (bodySize == 0 || bodySize > MAX_BODY_BYTES) {
      this.pollFailed("body size " + bodySize.toString() + " is outside 1.." + MAX_BODY_BYTES.toString());
      return;
    }
    if (getBuffer(BufferType.HttpCallResponseBody, bodySize, scratch) != Status.Ok || scratch.len != bodySize) {
      scratch.release();
      this.pollFailed("could not read the response body");
      return;
    }
    const list = parseRevocationList(scratch.ptr, scratch.len);
    scratch.release();
    if (list === null) {
      this.pollFailed("invalid revocation list: " + revocationParseError);
      return;
    }
    // The version is a digest of the content (equal on every trustgate replica for the same list), not a counter:
    // any 200 is the list in force now, whether its number is above or below the last one.
    const previous = this.list.version;
    this.list = list;
    increment(metrics.revocationPolls);
    record(metrics.revocationListVersion, list.version);
    record(metrics.revocationListEntries, <u64>(list.spiffeIds.size + list.fingerprints.size));
    log(
      LogLevel.Info,
      "trustgate: revocation list version " +
        previous.toString() +
        " -> " +
        list.version.toString() +
        " (" +
        list.spiffeIds.size.toString() +
        " identities, " +
        list.fingerprints.size.toString() +
        " fingerprints)",
    );
  }

  /** The last good list stays in force; the failure is counted and logged. */
  private pollFailed(why: string): void {
    increment(metrics.revocationPollFailures);
    log(
      LogLevel.Warn,
      "trustgate: revocation poll failed: " + why + "; keeping list version " + this.list.version.toString(),
    );
  }
}
