// Stream context id -> root context, without per-request allocation: open addressing with
// linear probing and backward-shift deletion (no tombstones). Grows only when concurrency grows.

export class ContextTable<T> {
  private keys: StaticArray<u32> = new StaticArray<u32>(64);
  private values: StaticArray<T | null> = new StaticArray<T | null>(64);
  private count: i32 = 0;

  private slotOf(key: u32, mask: u32): u32 {
    return (key * 0x9e3779b1) & mask;
  }

  get(key: u32): T | null {
    const mask = <u32>this.keys.length - 1;
    let i = this.slotOf(key, mask);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == key) return unchecked(this.values[i]);
      if (k == 0) return null;
      i = (i + 1) & mask;
    }
    return null;
  }

  /** Keys are context ids; 0 is never a valid stream id and marks an empty slot. */
  set(key: u32, value: T): void {
    if (key == 0) return;
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const mask = <u32>this.keys.length - 1;
    let i = this.slotOf(key, mask);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == key || k == 0) {
        if (k == 0) this.count++;
        unchecked((this.keys[i] = key));
        unchecked((this.values[i] = value));
        return;
      }
      i = (i + 1) & mask;
    }
  }

  delete(key: u32): void {
    if (key == 0) return;
    const mask = <u32>this.keys.length - 1;
    let i = this.slotOf(key, mask);
    while (true) {
      const k = unchecked(this.keys[i]);
      if (k == 0) return;
      if (k == key) break;
      i = (i + 1) & mask;
    }
    // Backward-shift: move later entries of the same probe run into the hole.
    let hole = i;
    let j = (i + 1) & mask;
    while (true) {
      const k = unchecked(this.keys[j]);
      if (k == 0) break;
      const home = this.slotOf(k, mask);
      // Move k if its home slot is not in the cyclic range (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        unchecked((this.keys[hole] = k));
        unchecked((this.values[hole] = unchecked(this.values[j])));
        hole = j;
      }
      j = (j + 1) & mask;
    }
    unchecked((this.keys[hole] = 0));
    unchecked((this.values[hole] = null));
    this.count--;
  }

  get size(): i32 {
    return this.count;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldKeys.length * 2;
    this.keys = new StaticArray<u32>(cap);
    this.values = new StaticArray<T | null>(cap);
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = unchecked(oldKeys[i]);
      if (k != 0) this.set(k, unchecked(oldValues[i])!);
    }
  }
}
