// An immutable set of byte strings with an allocation-free membership test on raw memory
// (open addressing, linear probing, FNV-1a). Built once per revocation-list update, queried per request.

function fnv1a(ptr: usize, len: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < len; i++) {
    h ^= <u32>load<u8>(ptr + i);
    h *= 0x01000193;
  }
  return h;
}

export class ByteSet {
  private slots: StaticArray<ArrayBuffer | null>;
  private mask: u32;
  readonly size: i32;

  constructor(entries: Array<ArrayBuffer>) {
    // Capacity: a power of two at least twice the entry count, so probes stay short.
    let cap: u32 = 8;
    while (cap < <u32>entries.length * 2) cap <<= 1;
    this.slots = new StaticArray<ArrayBuffer | null>(<i32>cap);
    this.mask = cap - 1;
    let count = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const p = changetype<usize>(e);
      if (this.has(p, e.byteLength)) continue;
      let slot = fnv1a(p, e.byteLength) & this.mask;
      while (this.slots[slot] !== null) slot = (slot + 1) & this.mask;
      this.slots[slot] = e;
      count++;
    }
    this.size = count;
  }

  has(ptr: usize, len: usize): bool {
    let slot = fnv1a(ptr, len) & this.mask;
    while (true) {
      const e = this.slots[slot];
      if (e === null) return false;
      if (<usize>e.byteLength == len && memory.compare(changetype<usize>(e), ptr, len) == 0) return true;
      slot = (slot + 1) & this.mask;
    }
    return false;
  }
}
