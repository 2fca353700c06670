/**
 * Holds the active PolicySet. A Check reads the reference once and uses that set to the end, so a reload that
 * swaps the reference mid-flight can never give a request half of one set and half of another.
 */
import type { PolicySet } from "./policy-set.js";

export class PolicyHolder {
  private set: PolicySet | null = null;
  private readonly listeners: Array<(set: PolicySet) => void> = [];

  get current(): PolicySet | null {
    return this.set;
  }

  swap(next: PolicySet): void {
    this.set = next;
    for (const listener of this.listeners) listener(next);
  }

  onSwap(listener: (set: PolicySet) => void): void {
    this.listeners.push(listener);
  }
}
