// Work that many events of one turn of the event loop may ask for, done once when the turn is
// over: the group commit of the SQLite driver, the batch of submits, the worker's claim for the
// slots freed together. Each asks with `schedule()`; a request made while a run is pending joins it.
export function endOfTurn(run: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      run();
    });
  };
}
