// Access to the module's linear memory with Envoy's bounds rules, and host-to-guest copies through
// the module's allocator (WasmBase::copyToPointerSize: an empty value is written as ptr=0/size=0
// without calling the allocator).

export class GuestMemory {
  private bytes: Buffer;
  private view: DataView;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly allocate: (size: number) => number,
  ) {
    this.bytes = Buffer.from(memory.buffer);
    this.view = new DataView(memory.buffer);
  }

  /**
   * Views must be rebuilt after the module grows its memory: growing detaches the old ArrayBuffer,
   * and a view on a detached buffer has length 0 (cheaper to test than reading memory.buffer).
   */
  private sync(): void {
    if (this.bytes.byteLength === 0) {
      this.bytes = Buffer.from(this.memory.buffer);
      this.view = new DataView(this.memory.buffer);
    }
  }

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  private inBounds(ptr: number, len: number): boolean {
    return ptr >= 0 && len >= 0 && ptr + len <= this.bytes.byteLength;
  }

  /** A copy of [ptr, ptr+len), or null when out of bounds (the hostcall then returns INVALID_MEMORY_ACCESS). */
  read(ptr: number, len: number): Uint8Array | null {
    this.sync();
    if (!this.inBounds(ptr, len)) return null;
    return new Uint8Array(this.memory.buffer.slice(ptr, ptr + len));
  }

  readString(ptr: number, len: number): string | null {
    this.sync();
    if (!this.inBounds(ptr, len)) return null;
    return this.bytes.toString("utf8", ptr, ptr + len);
  }

  writeU32(ptr: number, value: number): boolean {
    this.sync();
    if (!this.inBounds(ptr, 4)) return false;
    this.view.setUint32(ptr, value >>> 0, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    this.sync();
    if (!this.inBounds(ptr, 8)) return false;
    this.view.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  write(ptr: number, data: Uint8Array): boolean {
    this.sync();
    if (!this.inBounds(ptr, data.length)) return false;
    this.bytes.set(data, ptr);
    return true;
  }

  /** copyIn for a string, encoded as UTF-8 straight into the module's memory. */
  copyInString(value: string, ptrPtr: number, sizePtr: number): boolean {
    const size = Buffer.byteLength(value);
    if (size === 0) return this.writeU32(ptrPtr, 0) && this.writeU32(sizePtr, 0);
    const ptr = this.allocate(size) >>> 0;
    this.sync();
    if (ptr === 0 || !this.inBounds(ptr, size)) return false;
    this.bytes.write(value, ptr, size, "utf8");
    return this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, size);
  }

  /** copyIn for header pairs, serialised straight into the module's memory (see pairs.ts for the format). */
  copyInPairs(pairs: ReadonlyArray<readonly [string, string]>, ptrPtr: number, sizePtr: number): boolean {
    if (pairs.length === 0) return this.writeU32(ptrPtr, 0) && this.writeU32(sizePtr, 0);
    let size = 4 + 8 * pairs.length;
    for (const [k, v] of pairs) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
    const ptr = this.allocate(size) >>> 0;
    this.sync();
    if (ptr === 0 || !this.inBounds(ptr, size)) return false;
    const b = this.bytes;
    b.writeUInt32LE(pairs.length, ptr);
    let offset = ptr + 4 + 8 * pairs.length;
    for (let i = 0; i < pairs.length; i++) {
      const [k, v] = pairs[i] as readonly [string, string];
      const keyLength = b.write(k, offset, "utf8");
      b[offset + keyLength] = 0;
      offset += keyLength + 1;
      const valueLength = b.write(v, offset, "utf8");
      b[offset + valueLength] = 0;
      offset += valueLength + 1;
      b.writeUInt32LE(keyLength, ptr + 4 + 8 * i);
      b.writeUInt32LE(valueLength, ptr + 8 + 8 * i);
    }
    return this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, size);
  }

  /** Copies `data` into memory the module allocates, then writes pointer and size into the return slots. */
  copyIn(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    if (data.length === 0) return this.writeU32(ptrPtr, 0) && this.writeU32(sizePtr, 0);
    const ptr = this.allocate(data.length) >>> 0;
    if (ptr === 0) return false;
    return this.write(ptr, data) && this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, data.length);
  }
}
