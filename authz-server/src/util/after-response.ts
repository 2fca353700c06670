/**
 * Runs bookkeeping once a unary gRPC response is on the wire, not before.
 *
 * grpc-js writes a unary response over two event-loop turns: the message (with the response headers) in the check
 * phase of the turn that answered, the trailers — the status, which is what ends the call for the client — in the
 * next turn, from the message's write callback. A callback queued with `setImmediate` while answering runs between
 * the two writes and so delays the status by its own duration; one queued from there runs right after the status
 * went out (seen with `strace`: writev(message), callback, epoll_pwait, write(trailers), callback of the second hop).
 * Two hops, then: the client has its answer before the work starts, and the work is still done within two turns.
 */
export class AfterResponse {
  private scheduled = false;
  private readonly secondHop = () => {
    setImmediate(this.runBound);
  };
  private readonly runBound = () => {
    this.scheduled = false;
    this.run();
  };

  /** `run` does all work queued since the last run (callers keep their own queue: no closure per item). */
  constructor(private readonly run: () => void) {}

  /** Asks for one run after the response being written now is out; several asks in one turn make one run. */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.secondHop);
  }
}
