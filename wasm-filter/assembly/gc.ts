// Garbage collection policy for the "minimal" AssemblyScript runtime (two-colour mark & sweep that
// runs only when asked). It has no write barriers and no shadow stack, which makes the binary about
// a third smaller and the hot path cheaper; the price is that a collection must only happen when no
// managed reference lives on the wasm stack. So collections run only at the very end of an exported
// callback, after its last use of any object.
//
// The allow path allocates nothing on the managed heap. Garbage comes from local denies (the JSON
// body), configuration and revocation polls; those mark the heap dirty, and the callback collects
// on its way out: root callbacks always, request callbacks once every DENIES_PER_COLLECTION denies,
// so a flood of denied requests costs one collection per batch and memory stays bounded.

const DENIES_PER_COLLECTION: u32 = 16;
let pendingDenies: u32 = 0;

export function noteDeny(): void {
  pendingDenies++;
}

/** Call only as the last step of an exported callback. */
export function collectIfDue(): void {
  if (pendingDenies >= DENIES_PER_COLLECTION) collectNow();
}

/** Call only as the last step of an exported callback. */
export function collectNow(): void {
  pendingDenies = 0;
  __collect();
}
