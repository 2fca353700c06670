// Preloaded with NODE_OPTIONS=--import into a trustgate process (and, through the environment, its workers): shifts
// its wall clock (Date.now and new Date()) by SKEW_MS, as on a host whose clock runs ahead or behind. performance.now
// and timers are untouched.
const offset = Number(process.env.SKEW_MS ?? "0");
if (offset !== 0) {
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = SkewedDate;
}
